"""The markdown artifacts every flow leaves in the Prefect UI: one task publishes them, each process only
says how its outcomes read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from prefect import task
from prefect.artifacts import create_markdown_artifact

Outcome = TypeVar("Outcome")


def markdown_cell(text: str, limit: int = 300) -> str:
    """Text safe inside a markdown table cell: no pipes or newlines, cut at `limit` characters."""
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@task(name="publish-report", task_run_name="publish-report-{key}")
def publish_report(markdown: str, key: str, description: str) -> str:
    """Attach the markdown report to the flow run under `key` (the UI's Artifacts tab); return it."""
    create_markdown_artifact(markdown=markdown, key=key, description=description)
    return markdown


@dataclass(frozen=True)
class Report(Generic[Outcome]):
    """A process's report: how its outcomes read in markdown, and what the UI says the artifact is."""

    render: Callable[[list[Outcome]], str]
    description: str

    def publish(self, outcomes: list[Outcome], key: str) -> str:
        """Render the outcomes and publish them as the artifact `key`; return the markdown."""
        return publish_report(self.render(outcomes), key=key, description=self.description)
