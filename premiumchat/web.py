"""The reference web client (`web/`, built by Vite into `web/dist`), served at `/`.

Mounted after every other route, so `/graphql`, `/healthz`, `/readyz`, `/metrics` and `/admin` keep
answering; without a build, `/` explains how to make one instead of failing.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# A source checkout (editable install): <repo>/web/dist next to the package.
DEFAULT_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Web client not built</title></head>
<body><main>
<h1>The web client is not built</h1>
<p>Build it from the repository root with <code>make web</code>
(that is <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>), or start the server with
<code>make run</code>, which builds it when needed. Set <code>WEB_CLIENT_DIR</code> to serve a build
from elsewhere.</p>
<p>The API works without it: <a href="/graphql">/graphql</a>.</p>
</main></body></html>
"""


# The client loads only its own files and talks only to its own origin (HTTP and WebSocket).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class ClientFiles(StaticFiles):
    """Static files where the HTML entry point is never cached (asset names carry a content hash)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        if path in ("", ".", "index.html") or response.media_type == "text/html":
            response.headers["Cache-Control"] = "no-cache"
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response.headers["Referrer-Policy"] = "no-referrer"
        elif path.startswith("assets/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


async def not_built(_: Request) -> HTMLResponse:
    return HTMLResponse(NOT_BUILT_PAGE, status_code=503)


def web_client_routes(dist: Path | None) -> list[BaseRoute]:
    """The routes that serve the client from `dist` (or explain that it is missing); mount them last."""
    directory = dist or DEFAULT_DIST
    if (directory / "index.html").is_file():
        return [Mount("/", app=ClientFiles(directory=directory, html=True), name="web")]
    return [Route("/", not_built, methods=["GET", "HEAD"], name="web")]
