"""A trivial flow for the schedule tests: a scheduled deployment runs it every few seconds."""

from __future__ import annotations

from prefect import flow


@flow(name="tick")
def tick() -> str:
    """Do nothing, quickly: what is measured is the scheduler and the worker around it."""
    return "tick"
