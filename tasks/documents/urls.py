"""URLs: the normal form two links of the same page share, and which links are worth crawling."""

from __future__ import annotations

from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit


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


def site_of(url: str) -> tuple[str, int]:
    """Host and port: two URLs are on the same site when these match (http and https alike)."""
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def is_pdf_link(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(".pdf")


def crawlable_link(base: str, href: str, site: tuple[str, int]) -> str | None:
    """The absolute, normalized URL of a link worth crawling on `site`, or None (other scheme or site)."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    absolute = urljoin(base, href)
    if urlsplit(absolute).scheme.lower() not in ("http", "https"):  # mailto:, javascript:, tel:, data:
        return None
    url = normalize_url(absolute)
    return url if site_of(url) == site else None
