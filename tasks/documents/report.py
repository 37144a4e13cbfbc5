"""The artifact of a website ingestion or a document update."""

from __future__ import annotations

from tasks.documents.crawl import CrawledSite
from tasks.documents.save import DocumentResult
from tasks.reports import markdown_cell

REPORT_DESCRIPTION = "Documents stored, chunk counts, skipped URLs"


def report_markdown(title: str, results: list[DocumentResult], site: CrawledSite | None = None) -> str:
    """The run's artifact: each document with its chunk counts, and what the crawl skipped or noted."""
    failed = [r for r in results if r.status == "failed"]
    chunks = (f"- chunks: {sum(r.chunks for r in results)} stored, {sum(r.embedded for r in results)} embedded, "
              f"{sum(r.reused for r in results)} reused, {sum(r.dropped for r in results)} dropped as boilerplate")
    unchanged = sum(r.unchanged for r in results)
    lines = [f"# {title}", "", f"- documents: {len(results)} ({len(failed)} failed, {unchanged} unchanged)", chunks]
    if site is not None:
        not_followed = ", ".join(f"{n} {why}" for why, n in sorted(site.links_not_followed.items())) or "none"
        lines.append(f"- start: {site.start_url}; pages with text: {len(site.pages)}; "
                     f"skipped: {len(site.skipped)}; PDF links noted: {len(site.pdf_links)}")
        lines.append(f"- links not followed: {sum(site.links_not_followed.values())} ({not_followed})")
    lines.append("")
    lines += ["| document | status | chunks | embedded | reused | dropped | source | error |",
              "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r.document_id} | {r.status}{' (unchanged)' if r.unchanged else ''} | {r.chunks} | {r.embedded} | {r.reused} | {r.dropped} | "
              f"{markdown_cell(r.source_uri or r.name)} | {markdown_cell(r.error or '')} |" for r in results]
    if site is not None and site.skipped:
        lines += ["", "## Skipped", "", "| url | reason |", "|---|---|"]
        lines += [f"| {markdown_cell(s.url)} | {markdown_cell(s.reason)} |" for s in site.skipped[:100]]
    if site is not None and site.pdf_links:
        lines += ["", "## PDF links (not crawled as HTML; ingest them as PDFs)", ""]
        lines += [f"- {u}" for u in site.pdf_links[:100]]
    return "\n".join(lines)

