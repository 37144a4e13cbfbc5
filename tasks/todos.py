"""Todo extraction steps (spec 1): select executions, collect context, ask the extractor, save."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Literal

from prefect import task
from pydantic import BaseModel, Field, ValidationError, field_validator

from blocks.llm import LLM
from blocks.llm_types import ChatMessage, TodoContext, UnsupportedLanguage
from blocks.offline import OFFLINE_CAVEAT, OFFLINE_EXTRACTOR
from blocks.profile import load_profile
from blocks.rules.text import normalize_description
from store import executions, extraction, todos
from tasks.contexts import context_fields
from tasks.reports import Report, markdown_cell
from tasks.runtime import current_run_id, run_logger, utcnow
from tasks.timezones import local_date

TRUE_WORDS = {"true", "yes", "y", "1", "oui", "ja", "si", "sí"}
FALSE_WORDS = {"false", "no", "n", "0", "non", "nein", ""}


class TodoItem(BaseModel):
    """One validated next step as the extractor must give it."""

    description: str = Field(min_length=3, max_length=1000)
    due_date: dt.date
    mentioned_as_todo: bool = False

    @field_validator("description", mode="before")
    @classmethod
    def _clean_description(cls, value: Any) -> Any:
        return " ".join(value.split()) if isinstance(value, str) else value

    @field_validator("due_date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        if isinstance(value, str):
            return dt.date.fromisoformat(value.strip()[:10])
        if isinstance(value, dt.datetime):
            return value.date()
        return value

    @field_validator("mentioned_as_todo", mode="before")
    @classmethod
    def _lenient_bool(cls, value: Any) -> bool:
        """Models answer true, "true", "yes", 1 or nothing at all: none of that may fail the item."""
        if value is None or isinstance(value, bool):
            return bool(value)
        if isinstance(value, (int, float)):
            return value != 0
        if isinstance(value, str) and value.strip().casefold() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().casefold() in TRUE_WORDS
        raise ValueError(f"not a boolean: {value!r}")


class SkippedItem(BaseModel):
    item: Any
    reason: str


class SavedTodo(BaseModel):
    todo_id: int | None
    description: str
    due_date: dt.date


class ExtractionOutcome(BaseModel):
    """What happened to one task execution."""

    task_execution_id: int
    status: Literal["extracted", "already-extracted", "unsupported-language", "failed"]
    version_id: int | None = None
    saved: list[SavedTodo] = Field(default_factory=list)
    duplicates: int = 0
    skipped: list[SkippedItem] = Field(default_factory=list)
    error: str | None = None
    extractor: str | None = None  # LLM.extractor_name() of the block that read the execution


def validate_items(raw_items: Any) -> tuple[list[TodoItem], list[SkippedItem]]:
    """Keep every valid item; skip (with the reason) each bad one instead of failing the batch."""
    if not isinstance(raw_items, list):
        return [], [SkippedItem(item=raw_items, reason="the extractor did not return a list")]
    valid, skipped = [], []
    for raw in raw_items:
        try:
            valid.append(TodoItem.model_validate(raw))
        except (ValidationError, ValueError, TypeError) as exc:
            skipped.append(SkippedItem(item=raw, reason=_short_reason(exc)))
    return valid, skipped


def _short_reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors())
    return str(exc)


def dedup_key(description: str, language_code: str | None = None) -> str:
    """The todo's identity within its execution: the hash of the extractor's own duplicate key."""
    return hashlib.sha256(normalize_description(description, language_code).encode()).hexdigest()


def todo_context(execution: executions.ExecutionForExtraction, known: list[str], now: dt.datetime) -> TodoContext:
    """Everything the extractor needs for one execution, in the user's local day."""
    local_today = local_date(now, execution.timezone, execution.user_id, run_logger())
    return TodoContext(
        task_execution_id=execution.task_execution_id,
        user_goal=execution.user_goal,
        company_description=execution.company_description,
        messages=[ChatMessage.model_validate(message, from_attributes=True) for message in execution.messages],
        produced_text=execution.produced_text,
        known_todos=known,
        **context_fields(execution.user_name, execution.language_code, execution.timezone, local_today, execution),
    )


def extract_one(db: Any, llm: LLM, task_execution_id: int, force: bool) -> ExtractionOutcome:
    """Extract and save the todos of one execution; idempotent for a given produced text version."""
    logger = run_logger()
    now = utcnow()
    with db.session() as session:
        execution = executions.for_extraction(session, task_execution_id)
        version_id = execution.latest_version_id
        if not force and execution.already_extracted:
            return ExtractionOutcome(task_execution_id=task_execution_id, status="already-extracted", version_id=version_id)
        context = todo_context(execution, todos.known_descriptions(session, task_execution_id), now)

    try:
        items, skipped = validate_items(llm.extract_todos(context))
    except UnsupportedLanguage as exc:
        # Said, not guessed: the execution is marked done (the sweep would pick it up again and again) and the
        # report counts it; extract it again with force=True once a model or rules for the language exist.
        logger.warning("execution %s: %s", task_execution_id, exc)
        with db.session() as session:
            extraction.claim_extraction(session, task_execution_id, version_id, now)
        return ExtractionOutcome(task_execution_id=task_execution_id, status="unsupported-language",
                                 version_id=version_id, error=str(exc), extractor=llm.extractor_name())
    for bad in skipped:
        logger.warning("execution %s: skipped todo item %r: %s", task_execution_id, bad.item, bad.reason)

    run_id = current_run_id()
    # A todo already known for this execution or its predecessors is not saved again, however reworded.
    known = {normalize_description(todo, context.language_code) for todo in context.known_todos}
    new = unique_items(items, context.language_code)
    unique = [item for item in new if normalize_description(item.description, context.language_code) not in known]
    with db.session() as session:
        # The claim and the rows commit together: a crash in between leaves neither.
        if not extraction.claim_extraction(session, task_execution_id, version_id, now) and not force:
            return ExtractionOutcome(task_execution_id=task_execution_id, status="already-extracted", version_id=version_id)
        rows: list[dict[str, Any]] = [
            {
                "task_execution_id": task_execution_id,
                "user_id": execution.user_id,
                "description": item.description,
                "dedup_key": dedup_key(item.description, context.language_code),
                "created_at": now,
                "source_run_id": run_id,
            }
            for item in unique
        ]
        inserted = extraction.insert_todos(session, rows, [item.due_date for item in unique], run_id)
    saved = [
        SavedTodo(todo_id=inserted[row["dedup_key"]], description=item.description, due_date=item.due_date)
        for row, item in zip(rows, unique, strict=True)
        if row["dedup_key"] in inserted
    ]
    return ExtractionOutcome(
        task_execution_id=task_execution_id,
        status="extracted",
        version_id=version_id,
        saved=saved,
        duplicates=len(new) - len(unique) + len(rows) - len(inserted),
        skipped=skipped,
        extractor=llm.extractor_name(),
    )


def unique_items(items: list[TodoItem], language_code: str | None = None) -> list[TodoItem]:
    """First occurrence of each dedup key, in order (one batch may repeat an item)."""
    seen: dict[str, TodoItem] = {}
    for item in items:
        seen.setdefault(dedup_key(item.description, language_code), item)
    return list(seen.values())


@task(name="select-executions-to-extract", retries=2, retry_delay_seconds=[2, 10])
def select_executions_to_extract(quiet_minutes: int = 10, limit: int = 1000) -> list[int]:
    """Ids of executions whose latest produced text is quiet and whose todos were not extracted from it."""
    db = load_profile().database
    with db.session() as session:
        return extraction.executions_due_for_extraction(
            session, utcnow(), dt.timedelta(minutes=quiet_minutes), limit
        )


def _chunk_run_name() -> str:
    from prefect.runtime import task_run

    ids = task_run.parameters.get("task_execution_ids") or []
    return f"extract-todos-{ids[0]}" + (f"-and-{len(ids) - 1}-more" if len(ids) > 1 else "")


@task(name="extract-todos-for-executions", task_run_name=_chunk_run_name, retries=2, retry_delay_seconds=[5, 30])
def extract_todos_for_executions(task_execution_ids: list[int], force: bool = False) -> list[ExtractionOutcome]:
    """Extract the todos of a chunk of executions; one failing execution does not stop the others."""
    profile = load_profile()
    outcomes = []
    for task_execution_id in task_execution_ids:
        try:
            outcomes.append(extract_one(profile.database, profile.llm, task_execution_id, force))
        except Exception as exc:  # noqa: BLE001 - recorded in the outcome and the report, and fails the run
            run_logger().error("execution %s: todo extraction failed: %s", task_execution_id, exc)
            outcomes.append(ExtractionOutcome(task_execution_id=task_execution_id, status="failed", error=str(exc)))
    return outcomes


def extract_todos_for_jobs(jobs: list[dict[str, Any]]) -> list[ExtractionOutcome]:
    """Each extract-todos job's outcome, in the jobs' order: their executions extracted by one task run
    per value of `force` (a batch's jobs share it, as the sweep's chunks do)."""
    outcomes: dict[int, ExtractionOutcome] = {}
    for force in sorted({bool(job.get("force", False)) for job in jobs}):
        indexes = [i for i, job in enumerate(jobs) if bool(job.get("force", False)) == force]
        done = extract_todos_for_executions([jobs[i]["task_execution_id"] for i in indexes], force=force)
        outcomes |= dict(zip(indexes, done, strict=True))
    return [outcomes[i] for i in range(len(jobs))]


def report_markdown(outcomes: list[ExtractionOutcome]) -> str:
    """The run's artifact: what was extracted, what was skipped and why, what failed."""
    saved = sum(len(o.saved) for o in outcomes)
    skipped = sum(len(o.skipped) for o in outcomes)
    failed = [o for o in outcomes if o.status == "failed"]
    unsupported = [o for o in outcomes if o.status == "unsupported-language"]
    lines = [
        "# Todo extraction",
        "",
        f"- executions: {len(outcomes)} ({len(failed)} failed, "
        f"{sum(o.status == 'already-extracted' for o in outcomes)} already extracted, "
        f"{len(unsupported)} in a language without offline rules)",
        f"- todos saved: {saved}; items skipped: {skipped}; duplicates ignored: {sum(o.duplicates for o in outcomes)}",
    ]
    extractors = sorted({o.extractor for o in outcomes if o.extractor})
    if extractors:
        lines.append(f"- extractor: {', '.join(extractors)}")
    lines.append("")
    if OFFLINE_EXTRACTOR in extractors:
        lines += [f"> {OFFLINE_CAVEAT}", ""]
    if unsupported:
        lines += ["## Not extracted: no rules for the language", "",
                  "Configure a language model in the profile (or add rules), then extract these again with "
                  "force=True.", "", "| execution | reason |", "|---|---|"]
        lines += [f"| {o.task_execution_id} | {markdown_cell(o.error or '')} |" for o in unsupported]
        lines.append("")
    if saved:
        lines += ["## Extracted", "", "| execution | todo id | due | description |", "|---|---|---|---|"]
        lines += [
            f"| {o.task_execution_id} | {t.todo_id} | {t.due_date.isoformat()} | {markdown_cell(t.description)} |"
            for o in outcomes
            for t in o.saved
        ]
        lines.append("")
    if skipped:
        lines += ["## Skipped items", "", "| execution | item | reason |", "|---|---|---|"]
        lines += [
            f"| {o.task_execution_id} | {markdown_cell(repr(s.item))} | {markdown_cell(s.reason)} |" for o in outcomes for s in o.skipped
        ]
        lines.append("")
    if failed:
        lines += ["## Failed executions", "", "| execution | error |", "|---|---|"]
        lines += [f"| {o.task_execution_id} | {markdown_cell(o.error or '')} |" for o in failed]
    return "\n".join(lines)


EXTRACTION_REPORT = Report(report_markdown, description="Todos extracted, skipped and failed")
