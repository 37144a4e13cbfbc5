"""Demo data for the embedded default: one user, one finished task execution with a real conversation.

Loading twice finds what the first load wrote (by the user's e-mail and the execution's title).
"""

from __future__ import annotations

import datetime as dt

from blocks.database import Database
from store.executions import ensure_finished_execution

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
    started = now - dt.timedelta(hours=2)
    user = {
        "name": "Ada Martin", "email": DEMO_EMAIL, "language_code": "en", "timezone": "Europe/Paris",
        "goal": "Close a 2M EUR seed round by the end of the quarter",
        "company_description": "Fernwood, a start-up selling inventory forecasting to bakeries",
    }
    messages = [(sender, text, started + dt.timedelta(minutes=3 * i)) for i, (sender, text) in enumerate(CONVERSATION)]
    with database.session() as session:
        return ensure_finished_execution(
            session, user, ("Pitch deck review", "Review a fundraising deck and say what to fix."), DEMO_TITLE,
            started, now - dt.timedelta(minutes=40), messages,
            ("Pitch deck review", PRODUCED_TEXT, now - dt.timedelta(minutes=45)),
        )
