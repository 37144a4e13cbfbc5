"""The same-site crawl (spec 4): robots.txt, breadth-first over links, and the crawl-website task."""

from __future__ import annotations

import urllib.robotparser
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

from prefect import task
from pydantic import BaseModel, Field

from tasks.documents.fetch import HTML_TYPES, Fetcher, FetchFailed, FetchRefused, FetchSettings, Validators
from tasks.documents.urls import canonical_url, is_pdf_link, link_verdict, normalize_url, site_of
from tasks.runtime import run_logger
from tasks.text import content_hash, decode_html, extract_main_text, find_links

# Links whose path ends like this are not pages: never fetched as HTML.
NOT_HTML_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".css", ".js", ".json", ".xml", ".zip",
    ".gz", ".tar", ".mp3", ".mp4", ".avi", ".mov", ".woff", ".woff2", ".ttf", ".doc", ".docx", ".xls",
    ".xlsx", ".ppt", ".pptx", ".csv", ".txt", ".exe", ".dmg",
)


class PageText(BaseModel):
    url: str  # canonical (tasks.documents.urls.canonical_url)
    title: str
    text: str
    language: str | None = None
    etag: str | None = None
    last_modified: str | None = None


class SkippedUrl(BaseModel):
    url: str
    reason: str


class CrawledSite(BaseModel):
    start_url: str
    pages: list[PageText] = Field(default_factory=list)
    skipped: list[SkippedUrl] = Field(default_factory=list)
    pdf_links: list[str] = Field(default_factory=list)
    links_not_followed: dict[str, int] = Field(default_factory=dict)  # why → how many (other site, mailto:, …)


def load_robots(fetcher: Fetcher, start_url: str) -> urllib.robotparser.RobotFileParser:
    """The site's robots.txt rules (none when it has none; everything disallowed on 401/403)."""
    parts = urlsplit(start_url)
    robots_url = urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))
    parser = urllib.robotparser.RobotFileParser(robots_url)
    try:
        response = fetcher.get(robots_url)
    except (FetchFailed, FetchRefused):
        parser.parse([])  # unreachable robots.txt: the pages themselves will fail the same way
        return parser
    if response.status in (401, 403):
        parser.disallow_all = True  # type: ignore[attr-defined]  # read by can_fetch, not in the stubs
    elif response.status >= 400:
        parser.allow_all = True  # type: ignore[attr-defined]
    else:
        parser.parse(response.body.decode("utf-8", "replace").splitlines())
    return parser


@dataclass
class FetchedPage:
    url: str  # canonical form of where it was fetched from (after redirects): stored, fetched again on update
    charset: str | None
    html: bytes
    etag: str | None = None
    last_modified: str | None = None
    identity: str = ""  # canonical form of its rel=canonical on the same site, else of url: one page, one document


@dataclass
class Crawl:
    """What a crawl did: pages fetched, links noted (PDFs) and URLs skipped with the reason."""

    start_url: str
    pages: list[str] = field(default_factory=list)
    pdf_links: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    links_not_followed: Counter[str] = field(default_factory=Counter)  # reason → distinct links


def crawl(start_url: str, max_pages: int, handle_page: Callable[[FetchedPage], list[str]],
          settings: FetchSettings | None = None) -> Crawl:
    """Breadth-first over same-site links from `start_url`, up to `max_pages` HTML pages.

    `handle_page` gets each page as it arrives (its HTML is not kept) and returns the page's links.
    Pages are known by their canonical URL: "/", "/index.html" and "/?utm_source=…" are fetched once,
    and a page whose rel=canonical names a page already crawled is skipped as the same page.
    """
    start = normalize_url(start_url)
    result = Crawl(start_url=canonical_url(start))
    site = site_of(start)
    queue, queued = deque([start]), {canonical_url(start)}
    not_followed: set[str] = set()
    identities: dict[str, str] = {}  # page identity → the URL it was crawled at
    with Fetcher(settings) as fetcher:
        robots = load_robots(fetcher, start)
        user_agent = fetcher.settings.user_agent
        while queue and len(result.pages) < max_pages:
            url = queue.popleft()
            if not robots.can_fetch(user_agent, url):
                result.skipped.append((url, "disallowed by robots.txt"))
                continue
            page = _fetch_page(fetcher, url, result)
            if page is None:
                continue
            if page.identity in identities:  # a redirect or a rel=canonical to a page already crawled
                result.skipped.append((url, f"same page as {identities[page.identity]}"))
                continue
            identities[page.identity] = page.url
            queued.update((page.url, page.identity))
            result.pages.append(page.url)
            for href in handle_page(page):
                link, reason = link_verdict(page.url, href, site)
                if link is None:
                    target = urljoin(page.url, href.strip())
                    if reason and target not in not_followed:  # each target counted once, wherever linked
                        not_followed.add(target)
                        result.links_not_followed[reason] += 1
                    continue
                if canonical_url(link) in queued:
                    continue
                queued.add(canonical_url(link))
                if is_pdf_link(link):
                    result.pdf_links.append(link)
                elif urlsplit(link).path.lower().endswith(NOT_HTML_SUFFIXES):
                    result.skipped.append((link, "not an HTML page"))
                else:
                    queue.append(link)
    return result


def _fetch_page(fetcher: Fetcher, url: str, result: Crawl) -> FetchedPage | None:
    """One HTML page, or None with the reason recorded in `result`."""
    try:
        response = fetcher.get(url, accept=lambda media: media in HTML_TYPES or media == "")
    except (FetchFailed, FetchRefused) as exc:
        result.skipped.append((url, str(exc)))
        return None
    if response.status >= 400:
        result.skipped.append((url, f"HTTP {response.status}"))
        return None
    if response.content_type == "application/pdf":
        result.pdf_links.append(response.url)
        return None
    if response.content_type not in HTML_TYPES and response.content_type != "":
        result.skipped.append((url, f"not HTML ({response.content_type})"))
        return None
    if site_of(response.url) != site_of(url):
        result.skipped.append((url, f"redirected to another site ({response.url})"))
        return None
    declared = rel_canonical(response.body, response.charset, response.url)
    identity = declared if declared and site_of(declared) == site_of(url) else response.url
    return FetchedPage(url=canonical_url(response.url), charset=response.charset, html=response.body,
                       etag=response.etag, last_modified=response.last_modified, identity=canonical_url(identity))


def rel_canonical(raw: bytes, charset: str | None, base_url: str) -> str | None:
    """The page's <link rel="canonical" href>, absolute, or None."""
    import lxml.html

    try:
        tree = lxml.html.fromstring(decode_html(raw, charset))
    except (ValueError, lxml.etree.ParserError):
        return None
    hrefs = tree.xpath("//link[contains(concat(' ', normalize-space(translate(@rel, 'CANONIL', 'canonil')), ' '), "
                       "' canonical ')]/@href")
    return urljoin(base_url, str(hrefs[0]).strip()) if hrefs and str(hrefs[0]).strip() else None


def _crawl_run_name() -> str:
    from prefect.runtime import task_run

    return f"crawl-{urlsplit(str(task_run.parameters.get('url', ''))).hostname or 'site'}"


@task(name="crawl-website", task_run_name=_crawl_run_name, timeout_seconds=3600)
def crawl_website(url: str, max_pages: int) -> CrawledSite:
    """Fetch same-site pages breadth-first (robots.txt, SSRF guard) and keep each page's main text."""
    pages: list[PageText] = []

    def handle(page: FetchedPage) -> list[str]:
        text = extract_main_text(page.html, page.charset, page.url)
        pages.append(PageText(url=page.url, title=text.title, text=text.text, language=text.language,
                              etag=page.etag, last_modified=page.last_modified))
        return find_links(page.html, page.charset, page.url)

    result: Crawl = crawl(url, max_pages, handle)
    skipped = [SkippedUrl(url=u, reason=r) for u, r in result.skipped]
    kept: list[PageText] = []
    first_with: dict[str, str] = {}  # content hash → the page kept for it
    for page in pages:
        digest = content_hash(page.text)
        if not page.text.strip():
            skipped.append(SkippedUrl(url=page.url, reason="no text found on the page"))
        elif digest in first_with:
            skipped.append(SkippedUrl(url=page.url, reason=f"same content as {first_with[digest]}"))
        else:
            first_with[digest] = page.url
            kept.append(page)
    run_logger().info("crawled %s: %d pages with text, %d skipped, %d links not followed, %d PDF links",
                      result.start_url, len(kept), len(skipped), sum(result.links_not_followed.values()),
                      len(result.pdf_links))
    return CrawledSite(start_url=result.start_url, pages=kept, skipped=skipped, pdf_links=result.pdf_links,
                       links_not_followed=dict(result.links_not_followed))


def fetch_page_text(url: str, validators: Validators | None = None) -> PageText | None:
    """One page's main text for an update; None when the server answers 304 Not Modified to `validators`;
    raise (changing nothing) when it cannot be fetched or is empty."""
    with Fetcher() as fetcher:
        if not load_robots(fetcher, url).can_fetch(fetcher.settings.user_agent, normalize_url(url)):
            raise FetchRefused(f"{url}: disallowed by robots.txt")
        response = fetcher.get(url, validators=validators)
    if response.status == 304:
        return None
    if response.status >= 400:
        retryable = response.status in (408, 425, 429) or response.status >= 500
        raise FetchFailed(f"{url}: HTTP {response.status}; the document keeps its chunks", retryable)
    if response.content_type not in ("text/html", "application/xhtml+xml", ""):
        raise FetchFailed(f"{url}: not an HTML page ({response.content_type})", retryable=False)
    text = extract_main_text(response.body, response.charset, response.url)
    if not text.text.strip():
        raise FetchFailed(f"{url}: no text found on the page; the document keeps its chunks", retryable=False)
    return PageText(url=url, title=text.title, text=text.text, language=text.language, etag=response.etag,
                    last_modified=response.last_modified)
