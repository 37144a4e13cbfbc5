"""What the extractor's contexts (a todo to extract, a todo to reschedule) share: the user's day and the
task execution the todo comes from."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol


class OfExecution(Protocol):
    """A read that names the task execution a todo comes from."""

    @property
    def task_name(self) -> str: ...

    @property
    def task_definition(self) -> str | None: ...

    @property
    def execution_title(self) -> str: ...


def context_fields(
    user_name: str, language_code: str | None, timezone: str | None, local_date: dt.date, execution: OfExecution
) -> dict[str, Any]:
    """The user (language "en" and zone "UTC" when unset), their local day, and the execution's task and title."""
    return {
        "user_name": user_name,
        "language_code": language_code or "en",
        "timezone": timezone or "UTC",
        "local_date": local_date,
        "weekday": local_date.strftime("%A"),
        "task_name": execution.task_name,
        "task_definition": execution.task_definition,
        "execution_title": execution.execution_title,
    }
