"""Recommender (spec 7): the nightly build that publishes a new version, and recommendations from it."""

from __future__ import annotations

from prefect import flow
from prefect.utilities.annotations import quote

from tasks.fanout import chunked
from tasks.recommender.engine import Recommendations
from tasks.recommender.reports import report_build, report_recommendations
from tasks.recommender.steps import (
    BuildOutcome,
    build_index,
    build_slot,
    collect_sentences,
    embed_sentences,
    find_missing_embeddings,
    load_sentence_vectors,
    make_current,
    publish_package,
    published_outcome,
    recent_version,
    recommend_publications,
    timed,
)
from tasks.runtime import utcnow


def _build_run_name() -> str:
    return f"build-recommender-{utcnow():%Y-%m-%d-%H%M}"


@flow(name="build-recommender", flow_run_name=_build_run_name)
def build_recommender(
    k: int = 10,
    min_recall: float = 0.95,
    chunk_size: int = 1000,
    wait_seconds: float = 3600,
    skip_if_newer_than_hours: float | None = None,
) -> BuildOutcome:
    """Index every publication's sentences, publish the package as a new version and make it current."""
    with build_slot(wait_seconds) as acquired:
        if not acquired:
            outcome = BuildOutcome(status="skipped-busy")
        elif (recent := recent_version(skip_if_newer_than_hours)) is not None:
            outcome = BuildOutcome(status="skipped-recent", version_id=recent)
        else:
            outcome = publish_new_version(k, min_recall, chunk_size)
    report_build(outcome)
    return outcome


def publish_new_version(k: int, min_recall: float, chunk_size: int) -> BuildOutcome:
    """The build itself; until the last step flips the pointer, the previous version stays current."""
    seconds: dict[str, float] = {}
    with timed(seconds, "collect sentences"):
        corpus = collect_sentences()
    with timed(seconds, "embed new sentences"):
        missing = find_missing_embeddings(quote(corpus))
        for chunk in chunked(missing, chunk_size):
            embed_sentences({h: corpus.texts[h] for h in chunk})
    with timed(seconds, "load vectors"):
        vectors = load_sentence_vectors(quote(corpus))
    with timed(seconds, "build index"):
        built = build_index(quote(corpus), vectors, k, min_recall)  # type: ignore[call-overload]  # quote() is unwrapped
    with timed(seconds, "publish"):
        published = publish_package(built)
        version_id = make_current(published, built.manifest)
    return published_outcome(corpus, len(missing), built, published, version_id, seconds)


def _recommend_run_name() -> str:
    from prefect.runtime import flow_run

    parameters = flow_run.parameters
    if parameters.get("publication_id") is not None:
        return f"recommend-for-publication-{parameters['publication_id']}"
    return "recommend-for-text"


@flow(name="recommend", flow_run_name=_recommend_run_name)
def recommend(text: str | None = None, publication_id: int | None = None, k: int = 10) -> Recommendations:
    """The top-k publications, with scores, for a text or a publication id."""
    result = recommend_publications(text=text, publication_id=publication_id, k=k)
    report_recommendations(result)
    return result
