"""What a build and a recommendation leave in the Prefect UI, and the event a new version emits."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.events import emit_event

from tasks.recommender.engine import Recommendations
from tasks.recommender.steps import BuildOutcome
from tasks.reports import publish_report

EVENT_PUBLISHED = "nightshift.recommender.published"


def build_report(outcome: BuildOutcome) -> str:
    figures = outcome.figures
    lines = [
        "# Recommender build",
        "",
        f"- status: **{outcome.status}**; version {outcome.version_id}",
    ]
    if outcome.status == "published":
        lines += [
            (
                f"- publications: {figures['publications']}; sentences: {figures['sentences']} "
                f"({figures['distinct_sentences']} distinct; {figures['reused']} embeddings reused, "
                f"{figures['embedded']} embedded)"
            ),
            f"- model: {figures['model']} (dim {figures['dim']})",
            (
                f"- Annoy: {figures['n_trees']} trees, search_k {figures['search_k']}, "
                f"recall@{figures['recall_k']} {figures['recall']:.3f} against exact search"
            ),
            f"- package: {figures['size_mb']:.1f} MB at `{outcome.uri}`",
            f"- checksum: `{outcome.checksum}`",
            "",
            "| step | seconds |",
            "|---|---|",
            *(f"| {step} | {seconds:.2f} |" for step, seconds in figures["seconds"].items()),
        ]
    return "\n".join(lines)


@task(name="report-recommender-build")
def report_build(outcome: BuildOutcome) -> str:
    """The run's artifact and, for a new version, the event other automations listen to."""
    markdown = build_report(outcome)
    create_markdown_artifact(
        markdown=markdown, key="recommender-build", description="Recommender build figures"
    )
    if outcome.status == "published":
        emit_event(
            event=EVENT_PUBLISHED,
            resource={
                "prefect.resource.id": f"nightshift.recommender.version.{outcome.version_id}",
                "prefect.resource.name": f"recommender version {outcome.version_id}",
            },
            payload={
                **{k: v for k, v in outcome.figures.items() if k != "seconds"},
                "version_id": outcome.version_id,
                "checksum": outcome.checksum,
                "uri": outcome.uri,
            },
        )
    return markdown


def recommendations_markdown(result: Recommendations) -> str:
    lines = [
        f"# Recommendations for {result.query}",
        "",
        f"version {result.version_id}",
        "",
        "| publication | title | score |",
        "|---|---|---|",
    ]
    lines += [f"| {r.publication_id} | {r.title.replace('|', '/')} | {r.score:.3f} |" for r in result.items]
    return "\n".join(lines)


def report_recommendations(result: Recommendations) -> str:
    """The recommend run's artifact: the publications found, with their scores."""
    return publish_report(recommendations_markdown(result), key="recommendations",
                          description="Recommended publications")
