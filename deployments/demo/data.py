"""Demo data for the embedded default: one user, one finished task execution with a real conversation.

Loading twice finds what the first load wrote (by the user's e-mail and the execution's title).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from blocks.database import Database
from store.models import Message, ProducedTextVersion, Task, TaskExecution, User

DEMO_EMAIL = "ada.martin@example.com"
DEMO_TITLE = "Seed round pitch deck — review of version 3"

CONVERSATION = [
    ("user", "Hi! I need help tightening our seed pitch deck before the investor meetings."),
    ("assistant", "Happy to help. I read version 3. The problem slide is strong, but the market sizing "
                  "mixes TAM and SAM, and the financials stop in 2026."),
    ("user", "Good catch. I'll update the market slide with the bottom-up SAM numbers by Friday."),
    ("assistant", "That will help. I will draft a cleaner structure for the financials slide for you."),
    ("user", "Thanks. I also need to ask Marc for the churn figures before our call next Tuesday."),
    ("assistant", "Next step for you: send the revised deck to Claire at Northwind Ventures next Tuesday. "
                  "Remember to book the rehearsal with your co-founder on the 3rd."),
    ("user", "Perfect, that's the plan. I'll send Marc the updated cap table today."),
]

PRODUCED_TEXT = (
    "Review of the seed pitch deck (v3)\n\n"
    "Strengths: a crisp problem statement and a credible team slide.\n"
    "To fix: separate TAM from SAM, extend the financial plan to 2028, add churn and retention.\n"
    "Verdict: ready for investors once the market and financials slides are reworked."
)


def load_demo_data(database: Database, now: dt.datetime | None = None) -> int:
    """Create (once) the demo user and finished execution; return the execution id."""
    now = now or dt.datetime.now(dt.UTC)
    with database.session() as session:
        user = session.scalar(select(User).where(User.email == DEMO_EMAIL))
        if user is None:
            user = User(
                name="Ada Martin",
                email=DEMO_EMAIL,
                language_code="en",
                timezone="Europe/Paris",
                goal="Close a 2M EUR seed round by the end of the quarter",
                company_description="Fernwood, a start-up selling inventory forecasting to bakeries",
            )
            session.add(user)
        task_row = session.scalar(select(Task).where(Task.name == "Pitch deck review"))
        if task_row is None:
            task_row = Task(name="Pitch deck review", definition="Review a fundraising deck and say what to fix.")
            session.add(task_row)
        session.flush()
        execution = session.scalar(
            select(TaskExecution).where(TaskExecution.user_id == user.id, TaskExecution.title == DEMO_TITLE)
        )
        if execution is None:
            started = now - dt.timedelta(hours=2)
            execution = TaskExecution(
                user_id=user.id, task_id=task_row.id, title=DEMO_TITLE, created_at=started,
                ended_at=now - dt.timedelta(minutes=40),
            )
            session.add(execution)
            session.flush()
            session.add_all(
                Message(task_execution_id=execution.id, sender=sender, text=text,
                        sent_at=started + dt.timedelta(minutes=3 * i))
                for i, (sender, text) in enumerate(CONVERSATION)
            )
            session.add(ProducedTextVersion(
                task_execution_id=execution.id, title="Pitch deck review", body=PRODUCED_TEXT,
                created_at=now - dt.timedelta(minutes=45),
            ))
        session.flush()
        return execution.id
