"""URLs: the form a link is fetched by, the canonical form two links of one page share, and which
links are worth crawling (and why the others are not)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urldefrag, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that say where a visitor came from, not which page it is.
TRACKING = re.compile(r"^(utm_\w+|gclid|gbraid|wbraid|dclid|fbclid|msclkid|yclid|igshid|mc_cid|mc_eid|_ga|_gl|"
                      r"_hsenc|_hsmi|mkt_tok|ref_src|spm)$", re.IGNORECASE)
# A directory's default document: /docs/index.html is the page /docs/.
INDEX_DOCUMENTS = frozenset({"index.html", "index.htm", "index.php", "index.shtml", "default.htm", "default.html",
                             "default.asp", "default.aspx"})


def normalize_url(url: str) -> str:
    """Without fragment, with a lowercase scheme and host, the default port dropped and a path."""
    url, _ = urldefrag(url.strip())
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def canonical_url(url: str) -> str:
    """The identity of the page at `url`: normalized, without a directory's index document, without a
    trailing slash (but the root's), without tracking parameters, the other parameters sorted.

    Pages are fetched by their normalized URL (a server may tell "/a" from "/a/"); they are known, compared
    and stored by this one, so "/", "/index.html", "/?utm_source=x" and "/#top" are one document.
    """
    parts = urlsplit(normalize_url(url))
    path = parts.path
    head, _, last = path.rpartition("/")
    if last.lower() in INDEX_DOCUMENTS:
        path = head + "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not TRACKING.match(k)))
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def site_of(url: str) -> tuple[str, int]:
    """Host and port: two URLs are on the same site when these match (http and https alike)."""
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def is_pdf_link(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(".pdf")


def crawlable_link(base: str, href: str, site: tuple[str, int]) -> str | None:
    """The absolute, normalized URL of a link worth crawling on `site`, or None (other scheme or site)."""
    return link_verdict(base, href, site)[0]


def link_verdict(base: str, href: str, site: tuple[str, int]) -> tuple[str | None, str | None]:
    """(URL to crawl, None) for a same-site http(s) link; (None, why not) for the others; (None, None) for
    a link to a part of the same page ("#…") or an empty one."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None, None
    absolute = urljoin(base, href)
    scheme = urlsplit(absolute).scheme.lower()
    if scheme not in ("http", "https"):  # mailto:, javascript:, tel:, data:
        return None, f"{scheme or 'relative'}: link"
    url = normalize_url(absolute)
    return (url, None) if site_of(url) == site else (None, "link to another site")
