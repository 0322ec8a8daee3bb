"""HTTP hardening as pure ASGI middleware: a request body limit and security headers on HTML."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# GraphiQL (Strawberry's page) is one inline bootstrap script plus React and GraphiQL from unpkg.
# Framing is refused everywhere: nothing here is meant to be embedded.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline' https://unpkg.com; "
    "style-src 'self' 'unsafe-inline' https://unpkg.com; "
    "img-src 'self' data: https:; "
    "font-src 'self' data: https://unpkg.com; "
    "connect-src 'self' ws: wss:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    # Not no-referrer: under it browsers send `Origin: null` with same-site form posts, which the
    # admin panel's cross-site guard must refuse. same-origin still tells other sites nothing.
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """`nosniff` on every HTTP response; CSP, frame and referrer rules on every text/html one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if headers.get("content-type", "").startswith("text/html"):
                    for name, value in HTML_HEADERS.items():
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": f"The request body is larger than {limit} bytes."}]}, status_code=413
    )


class RequestBodyLimit:
    """Refuses a body over `max_bytes` with 413 and a JSON error, before the app reads any of it.

    A declared Content-Length is checked first; a chunked body is read up to the limit
    and handed on only when it fits, so the app never sees a truncated request.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await _too_large(self.max_bytes)(scope, receive, send)
                return
            # uvicorn stops at the declared length, so the app cannot be sent more.
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away: let the app see that as it would have.
                break
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _too_large(self.max_bytes)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
