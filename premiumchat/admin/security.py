"""A cross-site request guard for the panel's state-changing requests."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossSiteGuard:
    """Refuse changes that a browser says come from another site.

    sqladmin's custom actions (close a lobby, lift a ban) are GET links, and a SameSite=Lax
    cookie still rides along a top-level GET navigation from another site: without this, a
    link elsewhere could make a logged-in staff member close a lobby. Browsers send
    `Sec-Fetch-Site` (and `Origin` on other methods); clients that send neither are not browsers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _changes_state(scope) and _cross_site(Headers(scope=scope)):
            response = PlainTextResponse("Cross-site request refused.", status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _changes_state(scope: Scope) -> bool:
    return scope["method"] not in SAFE_METHODS or "/action/" in scope["path"]


def _cross_site(headers: Headers) -> bool:
    # A browser's own word first: under a strict referrer policy (`no-referrer`) Chromium sends
    # `Origin: null` on the panel's own form posts, along with `Sec-Fetch-Site: same-origin`.
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site in ("cross-site", "same-site")
    origin = headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc != headers.get("host")
