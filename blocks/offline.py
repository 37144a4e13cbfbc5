"""The offline LLM block: the embedded default used instead of a language model.

It answers each question of the LLM interface with the rule engine in blocks/rules/: per-language rules
find the user's explicit next steps (English, French, German, Spanish, Italian), the quietest working day is the
rescheduling proposal, and per-language templates write the daily email.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from blocks.llm import LLM
from blocks.llm_types import DailyEmailContext, RescheduleContext, TodoContext
from blocks.rules import boilerplate, extract, mail_writer, reschedule

OFFLINE_EXTRACTOR = "offline rules"
# What the extraction report tells operators when the offline rules read the executions.
OFFLINE_CAVEAT = (
    "The offline rules find the steps stated with one of their phrases (\"I need to\", \"Next steps:\", "
    "\"N'oubliez pas de\", \"Tengo que\") and the assistant's imperatives, taken up by the user or not. Steps "
    "said otherwise (a plan told in passing, \"lo del banco lo hago desde la app\") are not found, and in free-form "
    "conversations that is most of them (README, Todo extraction). Configure a language model block where the "
    "todos matter."
)


class OfflineLLM(LLM):
    """Deterministic, rule-based todo extraction in English, French, German, Spanish and Italian, no model."""

    _block_type_name = "Offline LLM"
    _block_type_slug = "nightshift-offline-llm"
    _description = (
        "Finds the user's explicit next steps with per-language rules and resolves their due dates with "
        "dateparser. The embedded default when no language model is configured."
    )

    default_due_in_working_days: int = Field(
        default=1, ge=0, description="Working days after the local date for todos that mention no date."
    )

    def extract_todos(self, context: TodoContext) -> list[dict[str, Any]]:
        return extract.extract_todos(context, self.default_due_in_working_days)

    def extractor_name(self) -> str:
        return OFFLINE_EXTRACTOR

    def relevant_chunks(self, title: str, chunks: list[str]) -> list[bool]:
        """Heuristic boilerplate filter: short chunks of site chrome and menu-like link lists are dropped."""
        return [not boilerplate.looks_like_boilerplate(chunk) for chunk in chunks]

    def propose_reschedule(self, context: RescheduleContext) -> dict[str, Any]:
        """The candidate working day with the fewest open todos (the earliest on a tie)."""
        return reschedule.propose_reschedule(context)

    def write_daily_email(self, context: DailyEmailContext) -> dict[str, Any]:
        """Subject and greeting from a per-language jinja2 template."""
        return mail_writer.write_daily_email(context)
