"""Helpers for the markdown artifacts every flow leaves in the Prefect UI."""

from __future__ import annotations


def markdown_cell(text: str, limit: int = 300) -> str:
    """Text safe inside a markdown table cell: no pipes or newlines, cut at `limit` characters."""
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
