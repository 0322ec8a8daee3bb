"""Graceful shutdown: open WebSockets are told the server is going away (1001), not restarting.

On SIGTERM uvicorn stops accepting connections, asks each open connection to shut down, waits
up to `timeout_graceful_shutdown` (SHUTDOWN_TIMEOUT_SECONDS) for requests and socket handlers
to finish, cancels what is left, then runs the app's lifespan shutdown. Its WebSocket
protocol closes sockets with 1012 (Service Restart), which tells a client to come back to
this server; behind a balancer the right word is 1001 (Going Away): reconnect, elsewhere.
The protocol class is part of uvicorn's config, so every worker of `serve --workers N`
(and `--reload`) uses it too, which a Server subclass could not reach.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

GOING_AWAY = 1001
GOING_AWAY_REASON = "Server shutting down"


class GoingAwayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, closing with 1001 when the server shuts down."""

    def shutdown(self) -> None:
        if not self.handshake_complete or self.close_sent:
            super().shutdown()  # no socket yet (HTTP 500), or a close already under way
            return
        self.stop_keepalive()
        # The app sees the disconnect and cleans up (presence, connection slots) while uvicorn waits.
        self.queue.put_nowait(
            {"type": "websocket.disconnect", "code": GOING_AWAY, "reason": GOING_AWAY_REASON}
        )
        self.conn.send_close(GOING_AWAY, GOING_AWAY_REASON)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.transport.close()
