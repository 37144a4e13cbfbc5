"""Who may call the Jobs API: a bearer token (NIGHTSHIFT_JOBS_API_TOKEN, else a Prefect Secret block).

The token and the body size are checked before a body is read (RequestGuard); routes check the
token again through the `Authorized` dependency, which also documents it in the OpenAPI schema.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blocks.settings import JobsApiLimits

TOKEN_ENV = "NIGHTSHIFT_JOBS_API_TOKEN"  # noqa: S105 - the variable's name, not a token
TOKEN_BLOCK = "nightshift-jobs-api-token"  # noqa: S105 - the block's name, not a token
DOCS_ASSETS = "/docs-assets"
PUBLIC_PATHS = {"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}


class Auth:
    """Bearer-token check against the configured token, compared in constant time."""

    def __init__(self) -> None:
        self._token: str | None = None
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}  # an asyncio lock serves one loop

    async def token(self) -> str | None:
        """The token, read once: concurrent first requests wait for one read of the block (a hundred
        requests reading it each kept a fresh API's first burst waiting 6 s on the Prefect server)."""
        if self._token is None:
            loop = asyncio.get_running_loop()
            self._locks = {loop: self._locks.get(loop) or asyncio.Lock()}
            async with self._locks[loop]:
                if self._token is None:
                    self._token = os.environ.get(TOKEN_ENV) or await _token_from_block()
        return self._token

    async def refusal(self, authorization: str | None) -> HTTPException | None:
        """Why a request with this Authorization header must be refused, or None when it may pass."""
        expected = await self.token()
        if not expected:
            return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                 f"no API token configured: set {TOKEN_ENV} or run `nightshift bootstrap`")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
            return HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong bearer token",
                                 headers={"WWW-Authenticate": "Bearer"})
        return None

    async def __call__(self, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                    Depends(HTTPBearer(auto_error=False))]) -> None:
        given = f"Bearer {credentials.credentials}" if credentials else None
        refusal = await self.refusal(given)
        if refusal is not None:
            raise refusal


class RequestGuard:
    """Refuses before the body is read: requests without the bearer token, and bodies over the cap (413).

    FastAPI reads and parses a body before it runs a route's dependencies, so the token check of
    `Auth` alone let anyone make the API read (and hold) a body of any size.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.limit = JobsApiLimits().max_body_bytes  # read once: building the settings costs a millisecond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS or scope["path"].startswith(DOCS_ASSETS + "/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = await auth.refusal(headers.get("authorization"))
        limit = self.limit
        declared = headers.get("content-length", "")
        if refusal is None and declared.isdigit() and int(declared) > limit:
            refusal = _too_large(limit)
        if refusal is not None:
            response = JSONResponse({"detail": refusal.detail}, refusal.status_code, headers=refusal.headers)
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:  # a body sent without Content-Length (chunked) is counted as it comes
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                         f"request body over {limit:,} bytes (NIGHTSHIFT_JOBS_API_MAX_BODY_BYTES)")


async def _token_from_block() -> str | None:
    from prefect.blocks.system import Secret

    try:
        # aload's `Self` is lost in Prefect's inject_client decorator: the block is a Secret
        secret: Secret[str] = await Secret.aload(TOKEN_BLOCK)
    except ValueError:
        return None
    return str(secret.get())


def ensure_api_token() -> bool:
    """Create the token's Secret block when missing (from NIGHTSHIFT_JOBS_API_TOKEN, else random)."""
    from prefect.blocks.system import Secret
    from pydantic import Secret as PydanticSecret

    try:
        Secret.load(TOKEN_BLOCK)
        return False
    except ValueError:
        # the value wrapped as Secret's own validator wraps a str (its annotation takes no plain str)
        token = PydanticSecret[str](os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(32))
        Secret(value=token).save(TOKEN_BLOCK)
        return True




auth = Auth()
Authorized = [Depends(auth)]
