"""What every LLM block is asked and answers, and the errors it raises.

The questions' contexts live apart from the `LLM` interface (blocks/llm.py) so that the rule engine
(blocks/rules/), which answers them offline, and the interface, which falls back on it, both import
them without importing each other.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class ChatMessage(BaseModel):
    """One turn of the conversation behind a task execution."""

    sender: Literal["user", "assistant"]
    text: str
    sent_at: dt.datetime | None = None


class TodoContext(BaseModel):
    """Everything the extractor may use to find a user's next steps in one task execution."""

    task_execution_id: int
    user_name: str
    user_goal: str | None = None
    company_description: str | None = None
    language_code: str = "en"
    timezone: str = "UTC"
    local_date: dt.date = Field(description="Today in the user's time zone; relative dates resolve from it.")
    weekday: str = Field(description="English name of local_date's weekday, e.g. 'Monday'.")
    task_name: str
    task_definition: str | None = None
    execution_title: str
    messages: list[ChatMessage] = Field(default_factory=list)
    produced_text: str | None = None
    known_todos: list[str] = Field(
        default_factory=list, description="Todos already known for this execution and its predecessors."
    )


class ScheduledTodo(BaseModel):
    """An open todo and the date it is currently scheduled for."""

    description: str
    scheduled_for: dt.date


class RescheduleContext(BaseModel):
    """What the extractor may use to propose a new date for one overdue todo."""

    todo_id: int
    description: str
    user_name: str
    language_code: str = "en"
    timezone: str = "UTC"
    local_date: dt.date = Field(description="Today in the user's time zone.")
    weekday: str
    scheduled_for: dt.date = Field(description="The date the todo is overdue from.")
    times_scheduled: int = Field(description="How many scheduling rows the todo already has.")
    task_name: str
    task_definition: str | None = None
    execution_title: str
    upcoming: list[ScheduledTodo] = Field(default_factory=list, description="Up to 20 open todos, soonest first.")
    open_todos_per_day: dict[dt.date, int] = Field(
        default_factory=dict, description="Open todos on each candidate working day (today onwards)."
    )


class EmailTodo(BaseModel):
    """One line of the daily email: a todo, where it came from, and why it moved (if it did)."""

    description: str
    execution_title: str
    scheduled_for: dt.date
    previous_date: dt.date | None = None
    justification: str | None = None


class DailyEmailContext(BaseModel):
    """What the writer may use for one user's daily todo email."""

    user_name: str
    language_code: str = "en"
    local_date: dt.date
    weekday: str
    today: list[EmailTodo] = Field(default_factory=list, description="Open todos scheduled for today.")
    rescheduled: list[EmailTodo] = Field(default_factory=list, description="Todos moved since yesterday.")


class LLMError(RuntimeError):
    """The model could not give a usable answer after the allowed attempts."""


class UnsupportedLanguage(LLMError):
    """This block cannot answer in the user's language (the offline rules cover only some languages)."""

    def __init__(self, language_code: str) -> None:
        super().__init__(f"language {language_code} has no offline rules")
        self.language_code = language_code
