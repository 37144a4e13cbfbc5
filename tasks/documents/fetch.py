"""Fetching web pages safely (spec 4): SSRF guard, timeouts, size cap, bounded redirects.

Every request goes to an IP address checked beforehand: the host is resolved once, each address is
checked against the refused ranges (loopback, link-local, private, reserved, multicast, unspecified),
and the connection is made to that address with the original Host header (and TLS server name), so a
DNS answer that changes between the check and the connection (rebinding) cannot reach a refused address.
Redirects are followed here, one hop at a time, with the same check on every hop.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tasks.documents.urls import normalize_url, site_of

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECT_CODES = {301, 302, 303, 307, 308}


class FetchSettings(BaseSettings):
    """How the crawler fetches; operators set these per worker (environment, NIGHTSHIFT_FETCH_*)."""

    model_config = SettingsConfigDict(env_prefix="NIGHTSHIFT_FETCH_")

    user_agent: str = "nightshift-crawler/1.0 (+https://github.com/nightshift; document ingestion)"
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(10.0, gt=0, description="Longest silence between two reads.")
    total_timeout: float = Field(30.0, gt=0, description="Longest time for one response, trickling included.")
    max_bytes: int = Field(10_000_000, gt=0, description="Larger responses are refused, not truncated.")
    max_redirects: int = Field(5, ge=0)
    # Comma-separated networks the SSRF guard lets through, e.g. "127.0.0.1/32,10.1.0.0/16".
    # Empty in production; the demo and tests allow loopback for their own local server only.
    allowed_networks: str = ""

    def allowed(self) -> list[IPNetwork]:
        return [ipaddress.ip_network(n.strip(), strict=False) for n in self.allowed_networks.split(",") if n.strip()]


class FetchRefused(Exception):
    """The URL must not be fetched (SSRF guard, scheme, robots.txt); retrying cannot help."""


class FetchFailed(Exception):
    """The server could not give a usable response (timeout, HTTP error, too large, redirect loop)."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable  # False when asking again gives the same answer (404, not HTML, empty)


@dataclass
class Validators:
    """What a server said identifies a response's version: sent back, it lets the server answer 304."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Response:
    url: str  # after redirects
    status: int
    content_type: str
    charset: str | None
    body: bytes
    etag: str | None = None  # validators for a conditional GET of the same URL later
    last_modified: str | None = None


# --- SSRF guard --------------------------------------------------------------------------------------


# IPv6 ranges that carry an IPv4 address in their last 32 bits and reach it through a translator.
NAT64_NETWORKS = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def embedded_ipv4(address: IPAddress) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address a 6to4, NAT64 or Teredo address leads to (what a relay would connect to)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if any(address in network for network in NAT64_NETWORKS):
        return "NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return "Teredo", address.teredo[1]
    return None


def refused_reason(address: IPAddress, allowed: list[IPNetwork]) -> str | None:
    """Why the crawler must not connect to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return None
    embedded = embedded_ipv4(address)
    if embedded is not None:
        kind, inner = embedded
        reason = refused_reason(inner, allowed)
        if reason is not None:
            return f"{kind} address embedding a {reason}"
    for label, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if flag:
            return label
    if not address.is_global:
        return "not globally routable"
    return None


def resolve_checked(host: str, port: int, allowed: list[IPNetwork]) -> IPAddress:
    """The first address of `host`, after checking every address it resolves to."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        addresses: list[IPAddress] = [literal]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise FetchFailed(f"cannot resolve host {host!r}: {exc}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        reason = refused_reason(address, allowed)
        if reason is not None:
            raise FetchRefused(
                f"refused to fetch {host!r}: it resolves to {address}, a {reason} address "
                f"(allow the network in NIGHTSHIFT_FETCH_ALLOWED_NETWORKS if this is intended)"
            )
    return addresses[0]


# --- fetching ----------------------------------------------------------------------------------------


def _content_type(headers: httpx.Headers) -> tuple[str, str | None]:
    value = headers.get("content-type", "")
    media = value.split(";")[0].strip().lower()
    charset = None
    for param in value.split(";")[1:]:
        key, _, raw = param.partition("=")
        if key.strip().lower() == "charset":
            charset = raw.strip().strip("\"'") or None
    return media, charset


class Fetcher:
    """GET with the SSRF guard on every hop, bounded redirects, timeouts and a size cap."""

    def __init__(self, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings()
        self._allowed = self.settings.allowed()
        timeout = httpx.Timeout(
            connect=self.settings.connect_timeout, read=self.settings.read_timeout,
            write=self.settings.read_timeout, pool=self.settings.connect_timeout,
        )
        # Never trust proxy variables of the environment: the guard checks the address we connect to.
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, accept: Callable[[str], bool] = lambda media: True,
            validators: Validators | None = None) -> Response:
        """Fetch `url`; raise FetchRefused, FetchFailed, or return the response (any status).

        validators: the ETag and Last-Modified of an earlier response: a server that has nothing newer
        answers 304 Not Modified without the body.
        """
        seen: set[str] = set()
        current = normalize_url(url)
        for _ in range(self.settings.max_redirects + 1):
            if current in seen:
                raise FetchFailed(f"redirect loop at {current}")
            seen.add(current)
            response, location = self._get_once(current, accept, validators)
            if location is None:
                return response
            current = normalize_url(urljoin(current, location))
        raise FetchFailed(f"{url}: more than {self.settings.max_redirects} redirects")

    def _get_once(self, url: str, accept: Callable[[str], bool],
                  validators: Validators | None = None) -> tuple[Response, str | None]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(f"refused to fetch {url!r}: only http and https URLs with a host")
        host, port = site_of(url)
        address = resolve_checked(host, port, self._allowed)
        # Connect to the checked address; Host header and TLS name keep the original host.
        literal = f"[{address}]" if address.version == 6 else str(address)
        target = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
        host_header = parts.netloc.rsplit("@", 1)[-1]
        headers = {"Host": host_header, "User-Agent": self.settings.user_agent, "Accept": "text/html,*/*;q=0.5"}
        if validators is not None and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators is not None and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        try:
            with self._client.stream("GET", target, headers=headers, extensions=extensions) as reply:
                if reply.status_code in REDIRECT_CODES and "location" in reply.headers:
                    return Response(url, reply.status_code, "", None, b""), reply.headers["location"]
                media, charset = _content_type(reply.headers)
                body = self._read_capped(url, reply) if reply.is_success and accept(media) else b""
                return Response(url, reply.status_code, media, charset, body, reply.headers.get("etag"),
                                reply.headers.get("last-modified")), None
        except httpx.TimeoutException as exc:
            raise FetchFailed(f"{url}: timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise FetchFailed(f"{url}: {type(exc).__name__}: {exc}") from None

    def _read_capped(self, url: str, reply: httpx.Response) -> bytes:
        """The body, refused beyond max_bytes or total_timeout without reading the rest."""
        cap = self.settings.max_bytes
        declared = reply.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchFailed(f"{url}: {int(declared):,} bytes, more than the {cap:,}-byte limit")
        deadline = time.monotonic() + self.settings.total_timeout
        chunks, size = [], 0
        for chunk in reply.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise FetchFailed(f"{url}: more than the {cap:,}-byte limit; stopped reading")
            if time.monotonic() > deadline:
                raise FetchFailed(f"{url}: still sending after {self.settings.total_timeout:.0f} s; gave up")
            chunks.append(chunk)
        return b"".join(chunks)
