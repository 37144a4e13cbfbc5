"""Fetching and crawling against real loopback HTTP servers: SSRF guard, limits, robots.txt, links."""

from __future__ import annotations

import ipaddress
import time

import pytest
from site_server import Page, html, redirect, serve

from tasks.documents.crawl import FetchedPage, crawl
from tasks.documents.fetch import (
    Fetcher,
    FetchFailed,
    FetchRefused,
    FetchSettings,
    Validators,
    refused_reason,
)
from tasks.documents.urls import canonical_url, crawlable_link
from tasks.text import find_links

LOOPBACK = "127.0.0.1/32"


def settings(**overrides: object) -> FetchSettings:
    values: dict[str, object] = {"allowed_networks": LOOPBACK, "connect_timeout": 2, "read_timeout": 2,
                                 "total_timeout": 10}
    values.update(overrides)
    return FetchSettings(**values)  # type: ignore[arg-type]


def links_of(page: FetchedPage) -> list[str]:
    return find_links(page.html, page.charset, page.url)


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"), ("192.168.0.10", "private"), ("172.16.5.4", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("fc00::1", "private"),
    ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"), ("240.0.0.1", "reserved"),
    ("100.64.0.1", "not globally routable"), ("93.184.216.34", None), ("2606:4700::1111", None),
])
def test_refused_addresses(address: str, reason: str | None) -> None:
    assert refused_reason(ipaddress.ip_address(address), []) == reason


def test_allowed_network_lets_only_that_network_through() -> None:
    allowed = FetchSettings(allowed_networks=" 127.0.0.1/32 , 10.0.0.0/8").allowed()
    assert refused_reason(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert refused_reason(ipaddress.ip_address("10.9.9.9"), allowed) is None
    assert refused_reason(ipaddress.ip_address("127.0.0.2"), allowed) == "loopback"
    assert refused_reason(ipaddress.ip_address("::1"), allowed) == "loopback"


def test_loopback_is_refused_unless_allowed_and_nothing_is_requested() -> None:
    with serve({"/": html("Home", "<p>hello</p>")}) as site:
        with Fetcher(settings(allowed_networks="")) as fetcher, pytest.raises(FetchRefused, match="loopback"):
            fetcher.get(site.origin + "/")
        assert site.requests == []
        with Fetcher(settings()) as fetcher:
            response = fetcher.get(site.origin + "/")
        assert response.status == 200 and b"hello" in response.body
        [(_path, headers)] = site.requests
        assert headers["user-agent"].startswith("nightshift-crawler/")


@pytest.mark.parametrize("target", [
    "http://10.0.0.1/admin", "http://169.254.169.254/latest/meta-data/", "http://[::1]:{port}/secret",
    "http://127.0.0.2:{port}/secret", "http://0.0.0.0:{port}/secret",
])
def test_redirect_to_a_refused_address_is_refused(target: str) -> None:
    with serve({"/": Page(), "/secret": html("Secret", "<p>internal</p>")}) as site:
        site.pages["/"] = redirect(target.format(port=site.port))
        with Fetcher(settings()) as fetcher, pytest.raises(FetchRefused, match="refused to fetch"):
            fetcher.get(site.origin + "/")
        assert site.paths() == ["/"]  # the internal page was never requested


def test_the_checked_address_is_used_with_the_original_host_header() -> None:
    with serve({"/": html("Home", "<p>hi</p>")}) as site:
        with Fetcher(settings(allowed_networks="127.0.0.0/8,::1/128")) as fetcher:
            fetcher.get(f"http://localhost:{site.port}/")
        assert site.requests[0][1]["host"] == f"localhost:{site.port}"


def test_redirect_loop_and_too_many_redirects_fail() -> None:
    pages = {"/a": redirect("/b"), "/b": redirect("/a")}
    pages.update({f"/r{i}": redirect(f"/r{i + 1}") for i in range(10)})
    with serve(pages) as site, Fetcher(settings(max_redirects=3)) as fetcher:
        with pytest.raises(FetchFailed, match="redirect loop"):
            fetcher.get(site.origin + "/a")
        with pytest.raises(FetchFailed, match="more than 3 redirects"):
            fetcher.get(site.origin + "/r0")


def test_slow_page_times_out_without_hanging() -> None:
    with serve({"/slow": Page(b"<p>late</p>", delay=30)}) as site, Fetcher(settings(read_timeout=0.5)) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchFailed, match="timed out"):
            fetcher.get(site.origin + "/slow")
        assert time.monotonic() - started < 5


def test_fifty_megabyte_page_is_refused_without_reading_it_all() -> None:
    fifty_mb = 50 * 1024 * 1024
    big_declared = Page(b"x" * 1024, headers={})
    with serve({"/big": Page(stream_bytes=fifty_mb), "/declared": big_declared}) as site:
        with Fetcher(settings(max_bytes=1_000_000)) as fetcher:
            started = time.monotonic()
            with pytest.raises(FetchFailed, match="1,000,000-byte limit"):
                fetcher.get(site.origin + "/big")
            assert time.monotonic() - started < 10
        with Fetcher(settings(max_bytes=1000)) as fetcher, pytest.raises(FetchFailed, match="1,024 bytes"):
            fetcher.get(site.origin + "/declared")  # refused from Content-Length, before the body


def test_links_worth_crawling() -> None:
    site = ("example.org", 80)
    base = "http://example.org/dir/page.html"
    assert crawlable_link(base, "other.html#part", site) == "http://example.org/dir/other.html"
    assert crawlable_link(base, "HTTP://Example.ORG:80/x?q=1", site) == "http://example.org/x?q=1"
    for href in ("mailto:a@example.org", "javascript:void(0)", "#top", "tel:+331", "http://other.org/",
                 "http://example.org:8080/", "data:text/html,hi", ""):
        assert crawlable_link(base, href, site) is None, href


def _site_pages() -> dict[str, Page]:
    body = """
      <nav><a href="/about">About</a> <a href="mailto:team@example.org">Mail</a>
      <a href="javascript:alert(1)">JS</a> <a href="#content">Skip</a></nav>
      <p id="content">Welcome. <a href="/about#team">Team</a> <a href="/missing">Gone</a>
      <a href="/report.pdf">Annual report</a> <a href="http://203.0.113.7/external">Elsewhere</a>
      <a href="https://example.com/">Example</a> <a href="/private/secret">Secret</a>
      <a href="/slow">Slow</a> <a href="/loop">Loop</a> <a href="/big">Big</a> <a href="/logo.png">Logo</a></p>"""
    return {
        "/robots.txt": Page(b"User-agent: *\nDisallow: /private/\n", content_type="text/plain"),
        "/": html("Home", body),
        "/about": html("About", '<p>About us. <a href="/">Home</a> <a href="/team">Team</a></p>'),
        "/team": html("Team", "<p>The team.</p>"),
        "/private/secret": html("Secret", "<p>Do not crawl.</p>"),
        "/report.pdf": Page(b"%PDF-1.4", content_type="application/pdf"),
        "/slow": Page(b"<p>late</p>", delay=30),
        "/loop": redirect("/loop2"),
        "/loop2": redirect("/loop"),
        "/big": Page(stream_bytes=50 * 1024 * 1024),
    }


def test_crawl_is_breadth_first_same_site_and_polite() -> None:
    with serve(_site_pages()) as site:
        started = time.monotonic()
        result = crawl(site.origin + "/", 100, links_of, settings(read_timeout=0.5, max_bytes=2_000_000))
        assert time.monotonic() - started < 20
        origin = site.origin
        assert result.pages == [f"{origin}/", f"{origin}/about", f"{origin}/team"]
        assert result.pdf_links == [f"{origin}/report.pdf"]
        reasons = dict(result.skipped)
        assert reasons[f"{origin}/missing"] == "HTTP 404"
        assert reasons[f"{origin}/private/secret"] == "disallowed by robots.txt"
        assert "timed out" in reasons[f"{origin}/slow"]
        assert "redirect loop" in reasons[f"{origin}/loop"]
        assert "byte limit" in reasons[f"{origin}/big"]
        assert reasons[f"{origin}/logo.png"] == "not an HTML page"
        requested = site.paths()
        assert "/private/secret" not in requested and "/report.pdf" not in requested and "/logo.png" not in requested
        assert requested.count("/about") == 1  # /about#team is the same page
        assert not any(u.startswith(("mailto", "javascript", "http://203.0.113.7", "https://example.com"))
                       for u in result.pages + [u for u, _ in result.skipped])


def test_crawl_stops_at_the_page_limit() -> None:
    pages = {"/": html("Home", " ".join(f'<a href="/p{i}">{i}</a>' for i in range(10)))}
    pages.update({f"/p{i}": html(f"P{i}", f'<p>Page {i}</p><a href="/p{i}/deeper">deeper</a>') for i in range(10)})
    with serve(pages) as site:
        result = crawl(site.origin + "/", 4, links_of, settings())
    assert result.pages == [site.origin + p for p in ("/", "/p0", "/p1", "/p2")]
    assert all("deeper" not in path for path in site.paths())


def test_robots_disallowing_everything_crawls_nothing() -> None:
    pages = {"/robots.txt": Page(b"User-agent: *\nDisallow: /\n", content_type="text/plain"),
             "/": html("Home", "<p>x</p>")}
    with serve(pages) as site:
        result = crawl(site.origin + "/", 10, links_of, settings())
    assert result.pages == [] and result.skipped == [(site.origin + "/", "disallowed by robots.txt")]
    assert site.paths() == ["/robots.txt"]


@pytest.mark.parametrize(("url", "canonical"), [
    ("http://Example.org", "http://example.org/"),
    ("http://example.org/index.html", "http://example.org/"),
    ("http://example.org/#top", "http://example.org/"),
    ("http://example.org/?utm_source=news&utm_medium=mail", "http://example.org/"),
    ("http://example.org/docs/", "http://example.org/docs"),
    ("http://example.org/docs/index.htm", "http://example.org/docs"),
    ("http://example.org:80/a?b=2&a=1&gclid=x&fbclid=y", "http://example.org/a?a=1&b=2"),
    ("https://example.org/a/b.html?q=tides", "https://example.org/a/b.html?q=tides"),
])
def test_canonical_urls(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_one_page_per_canonical_url_and_links_not_followed_are_counted() -> None:
    home = ('<p>Home. <a href="/index.html">Again</a> <a href="/?utm_source=news">Tracked</a> <a href="/#main">Top</a>'
            ' <a href="/about/">About</a> <a href="/about">About too</a> <a href="/print">Print</a>'
            ' <a href="mailto:team@example.org">Mail</a> <a href="tel:+331">Call</a>'
            ' <a href="https://example.com/">Elsewhere</a> <a href="https://example.com/b">Elsewhere too</a></p>')
    pages = {
        "/": html("Home", home),
        "/index.html": html("Home", home),
        "/about": html("About", "<p>About us.</p>"),
        "/about/": html("About", "<p>About us.</p>"),
        "/print": Page(b"<html><head><link rel='canonical' href='/about'></head><body><p>About us.</p></body></html>"),
    }
    with serve(pages) as site:
        result = crawl(site.origin + "/", 100, links_of, settings())
        assert result.pages == [site.origin + "/", site.origin + "/about"]
        assert dict(result.skipped) == {site.origin + "/print": f"same page as {site.origin}/about"}  # rel=canonical
        assert dict(result.links_not_followed) == {"mailto: link": 1, "tel: link": 1, "link to another site": 2}
        requested = [path for path in site.paths() if path != "/robots.txt"]
        assert requested == ["/", "/about/", "/print"]  # /index.html, /?utm_source, /about never fetched again


def test_conditional_get_is_answered_not_modified() -> None:
    page = html("Tides", "<p>Tides.</p>")
    page.headers.update({"ETag": '"v1"', "Last-Modified": "Mon, 30 Nov 2026 10:00:00 GMT"})
    with serve({"/": page}) as site, Fetcher(settings()) as fetcher:
        first = fetcher.get(site.origin + "/")
        assert (first.status, first.etag, first.last_modified) == (200, '"v1"', "Mon, 30 Nov 2026 10:00:00 GMT")
        again = fetcher.get(site.origin + "/", validators=Validators(first.etag, first.last_modified))
        assert again.status == 304 and again.body == b""
        assert site.requests[-1][1]["if-none-match"] == '"v1"'
        page.headers["ETag"] = '"v2"'
        assert fetcher.get(site.origin + "/", validators=Validators('"v1"', None)).status == 200
