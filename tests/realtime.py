"""Chat and real-time test helpers: the chat operations, and live subscriptions over real sockets."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from tests.lobbies import Account, Api, parse_time
from tests.wsclient import LEGACY_WS, TRANSPORT_WS

PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]

WAIT_SECONDS = 10
QUIET_SECONDS = 0.3

USER = "id username"
MESSAGE_FIELDS = f"id lobbyId sender {{ {USER} }} content createdAt deleted clientMessageId"
PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"

SEND_MESSAGE = f"""
mutation SendMessage($lobbyId: ID!, $content: String!, $clientMessageId: String) {{
  sendMessage(lobbyId: $lobbyId, content: $content, clientMessageId: $clientMessageId) {{ {MESSAGE_FIELDS} }}
}}
"""
DELETE_MESSAGE = f"""
mutation DeleteMessage($messageId: ID!) {{ deleteMessage(messageId: $messageId) {{ {MESSAGE_FIELDS} }} }}
"""
SET_TYPING = """
mutation SetTyping($lobbyId: ID!, $isTyping: Boolean!) { setTyping(lobbyId: $lobbyId, isTyping: $isTyping) }
"""
MESSAGES = f"""
query Messages($lobbyId: ID!, $first: Int, $after: String, $last: Int, $before: String) {{
  messages(lobbyId: $lobbyId, first: $first, after: $after, last: $last, before: $before) {{
    {PAGE_INFO} edges {{ cursor node {{ {MESSAGE_FIELDS} }} }}
  }}
}}
"""
LOBBY_MESSAGES = f"""
query LobbyMessages($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {{
  lobby(id: $id) {{
    id
    messages(first: $first, after: $after, last: $last, before: $before) {{
      {PAGE_INFO} edges {{ cursor node {{ {MESSAGE_FIELDS} }} }}
    }}
  }}
}}
"""
ONLINE_USERS = f"query OnlineUsers($id: ID!) {{ lobby(id: $id) {{ id onlineUsers {{ {USER} }} }} }}"

LOBBY_EVENTS = f"""
subscription LobbyEvents($lobbyId: ID!, $since: String) {{
  lobbyEvents(lobbyId: $lobbyId, since: $since) {{
    __typename lobbyId occurredAt
    ... on ChatMessageEvent {{ message {{ {MESSAGE_FIELDS} }} }}
    ... on MessageDeletedEvent {{ messageId deletedBy {{ {USER} }} }}
    ... on PresenceJoinEvent {{ user {{ {USER} }} }}
    ... on PresenceLeaveEvent {{ user {{ {USER} }} }}
    ... on TypingEvent {{ user {{ {USER} }} isTyping expiresAt }}
    ... on MemberJoinedEvent {{ member {{ user {{ {USER} }} role joinedAt }} }}
    ... on MemberLeftEvent {{ user {{ {USER} }} }}
    ... on ModerationEvent {{ action actor {{ {USER} }} target {{ {USER} }} reason expiresAt }}
    ... on LobbyUpdatedEvent {{ lobby {{ id name status isPublic participantCount }} }}
    ... on ReplayCompletedEvent {{ recovered replayedCount }}
  }}
}}
"""
LOBBY_LIST_UPDATES = """
subscription LobbyListUpdates {
  lobbyListUpdates { __typename lobbyId occurredAt lobby { id name status isPublic participantCount } }
}
"""

_names = itertools.count(1)


def unique_names(*names: str) -> list[str]:
    """Fresh usernames: a server process lives for a whole module, its accounts too."""
    n = next(_names)
    return [f"{name}_{n}" for name in names]


def code_and_field(error: dict[str, Any]) -> tuple[str | None, str | None]:
    extensions: dict[str, Any] = error.get("extensions") or {}
    return extensions.get("code"), extensions.get("field")


class Chat(Api):
    """The lobby operations and the chat operations, one call each."""

    async def send(
        self,
        user: Account | None,
        lobby_id: str,
        content: str = "hello",
        client_message_id: str | None = None,
        *,
        expect: str | None = None,
    ) -> Any:
        variables = {"lobbyId": lobby_id, "content": content, "clientMessageId": client_message_id}
        result = await self.run(SEND_MESSAGE, variables, user, expect)
        return result if expect else result["sendMessage"]

    async def send_many(
        self, user: Account, lobby_id: str, count: int, prefix: str = "m"
    ) -> list[dict[str, Any]]:
        return [await self.send(user, lobby_id, f"{prefix} {i}") for i in range(count)]

    async def delete(self, user: Account | None, message_id: str, *, expect: str | None = None) -> Any:
        result = await self.run(DELETE_MESSAGE, {"messageId": message_id}, user, expect)
        return result if expect else result["deleteMessage"]

    async def typing(
        self, user: Account | None, lobby_id: str, is_typing: bool = True, *, expect: str | None = None
    ) -> Any:
        result = await self.run(SET_TYPING, {"lobbyId": lobby_id, "isTyping": is_typing}, user, expect)
        if expect:
            return result
        assert result["setTyping"] is True
        return True

    async def history(
        self, user: Account | None, lobby_id: str, *, expect: str | None = None, **page: Any
    ) -> Any:
        result = await self.run(MESSAGES, {"lobbyId": lobby_id, **page}, user, expect)
        return result if expect else result["messages"]

    async def history_ids(self, user: Account, lobby_id: str) -> list[str]:
        """Every message id of the lobby, oldest first (up to 100)."""
        connection = await self.history(user, lobby_id, last=100)
        return [edge["node"]["id"] for edge in connection["edges"]]

    async def online(self, user: Account, lobby_id: str) -> set[str]:
        """The usernames `user` sees online in the lobby."""
        lobby = (await self.run(ONLINE_USERS, {"id": lobby_id}, user))["lobby"]
        assert lobby is not None
        return {entry["username"] for entry in lobby["onlineUsers"]}


def node_ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


def event_summary(event: dict[str, Any]) -> str:
    kind: str = event["__typename"]
    if kind == "ChatMessageEvent":
        return f"{kind}({event['message']['id']})"
    for key in ("user", "target"):
        if isinstance(event.get(key), dict):
            return f"{kind}({event[key]['username']})"
    return kind


class StreamEnded(AssertionError):
    pass


class Stream:
    """One subscription over a gql session, read by a background task.

    Everything it received stays in `events`; `next()` and `until()` consume the queue in order.
    """

    def __init__(self, session: Any, query: str, variables: dict[str, Any] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.outcome: str | None = None  # "complete" or "error" once ended
        self.error: TransportQueryError | None = None
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._task = asyncio.create_task(
            self._read(session, GraphQLRequest(query, variable_values=variables))
        )

    async def _read(self, session: Any, request: GraphQLRequest) -> None:
        try:
            async for data in session.subscribe(request):
                [event] = data.values()
                self.events.append(event)
                self._queue.put_nowait(("event", event))
        except TransportQueryError as error:
            self.outcome, self.error = "error", error
            self._queue.put_nowait(("error", error))
        except Exception as error:  # the socket failed: the test must see it, not hang
            self.outcome = "failed"
            self._queue.put_nowait(("failed", error))
        else:
            self.outcome = "complete"
            self._queue.put_nowait(("complete", None))

    async def _get(self, wait: float) -> tuple[str, Any]:
        async with asyncio.timeout(wait):
            return await self._queue.get()

    async def next(self, wait: float = WAIT_SECONDS) -> dict[str, Any]:
        """The next event; fails when the stream ended instead."""
        try:
            kind, value = await self._get(wait)
        except TimeoutError:
            raise AssertionError(f"no event within {wait} s; so far: {self.summary()}") from None
        if kind != "event":
            raise StreamEnded(f"stream ended ({kind}: {value!r}) after {self.summary()}")
        event: dict[str, Any] = value
        return event

    async def until(
        self,
        typename: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        wait: float = WAIT_SECONDS,
    ) -> dict[str, Any]:
        """The next event of that type (matching `predicate`), skipping the others."""
        async with asyncio.timeout(wait):
            while True:
                event = await self.next(wait)
                if event["__typename"] == typename and (predicate is None or predicate(event)):
                    return event

    async def until_message(self, message_id: str, wait: float = WAIT_SECONDS) -> dict[str, Any]:
        return await self.until("ChatMessageEvent", lambda e: e["message"]["id"] == message_id, wait)

    async def until_presence(self, username: str, joined: bool = True) -> dict[str, Any]:
        kind = "PresenceJoinEvent" if joined else "PresenceLeaveEvent"
        return await self.until(kind, lambda e: e["user"]["username"] == username)

    async def message_ids(self, count: int, wait: float = WAIT_SECONDS) -> list[str]:
        """The ids of the ChatMessageEvents received, once there are `count` of them (or `wait` has passed:
        the caller then compares what did arrive)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while len(self.chat_message_ids()) < count and (left := deadline - loop.time()) > 0:
            try:
                await self.until("ChatMessageEvent", wait=left)
            except (TimeoutError, AssertionError):
                break
        return self.chat_message_ids()

    def chat_message_ids(self) -> list[str]:
        return [event["message"]["id"] for event in self.of_type("ChatMessageEvent")]

    async def take(self, count: int, wait: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        async with asyncio.timeout(wait):
            return [await self.next(wait) for _ in range(count)]

    async def quiet(self, seconds: float = QUIET_SECONDS, ignore: Iterable[str] = ()) -> None:
        """Nothing arrives (but events of the ignored types) for a while."""
        ignored = set(ignore)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                kind, value = await self._get(left)
            except TimeoutError:
                return
            if kind == "event" and value["__typename"] in ignored:
                continue
            raise AssertionError(f"unexpected {kind}: {value!r}")

    async def completes(self, wait: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        """The events still to come before a clean `complete`; fails on an error or a timeout."""
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(wait):
            while True:
                kind, value = await self._get(wait)
                if kind == "event":
                    events.append(value)
                    continue
                assert kind == "complete", f"ended with {kind}: {value!r} after {self.summary()}"
                return events

    async def fails(self, wait: float = WAIT_SECONDS) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The events still to come before the stream ends with an error, and that error's GraphQL errors."""
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(wait):
            while True:
                kind, value = await self._get(wait)
                if kind == "event":
                    events.append(value)
                    continue
                assert kind == "error", f"ended with {kind}: {value!r} after {self.summary()}"
                errors: list[dict[str, Any]] = list(value.errors or [])
                assert errors, value
                return events, errors

    async def stop(self) -> None:
        """End it from the client (graphql-transport-ws `complete`, legacy `stop`); the socket stays open."""
        if not self._task.done():
            self._task.cancel()
        try:
            await asyncio.wait_for(self._task, WAIT_SECONDS)
        except asyncio.CancelledError:
            pass

    def summary(self) -> list[str]:
        return [event_summary(event) for event in self.events]

    def of_type(self, typename: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["__typename"] == typename]


class LiveClient:
    """A gql client over one real socket: queries, mutations and any number of subscriptions."""

    def __init__(self, ws_url: str, account: Account, subprotocol: str = TRANSPORT_WS) -> None:
        self.account = account
        self.subprotocol = subprotocol
        transport = WebsocketsTransport(
            url=ws_url,
            init_payload={"authorization": f"Bearer {account.token}"},
            subprotocols=[subprotocol],
            close_timeout=2,
        )
        self.client = Client(transport=transport)
        self.streams: list[Stream] = []
        self.session: Any = None

    async def __aenter__(self) -> LiveClient:
        self.session = await asyncio.wait_for(self.client.connect_async(), WAIT_SECONDS)  # type: ignore[no-untyped-call]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the socket (its subscriptions end with it, as far as the server knows)."""
        if self.session is None:
            return
        for stream in self.streams:
            await stream.stop()
        await self.client.close_async()  # type: ignore[no-untyped-call]
        self.session = None

    def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> Stream:
        stream = Stream(self.session, query, variables)
        self.streams.append(stream)
        return stream

    def lobby_events(self, lobby_id: str, since: str | None = None) -> Stream:
        variables: dict[str, Any] = {"lobbyId": lobby_id}
        if since is not None:
            variables["since"] = since
        return self.subscribe(LOBBY_EVENTS, variables)

    async def joined(self, lobby_id: str, since: str | None = None) -> Stream:
        """A lobbyEvents subscription, once live: its own PresenceJoinEvent (or, with `since`, the
        ReplayCompletedEvent) has arrived."""
        stream = self.lobby_events(lobby_id, since)
        if since is None:
            await stream.until_presence(self.account.username)
        else:
            await stream.until("ReplayCompletedEvent")
        return stream

    def lobby_list(self) -> Stream:
        return self.subscribe(LOBBY_LIST_UPDATES)

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        request = GraphQLRequest(query, variable_values=variables)
        result: dict[str, Any] = await asyncio.wait_for(self.session.execute(request), WAIT_SECONDS)
        return result


async def until_live(chat: Chat, prober: Account, lobby_id: str, *streams: Stream) -> None:
    """Make sure the streams are live: `prober` calls setTyping(false) until every stream has seen it
    (for subscriptions that get no PresenceJoinEvent of their own: staff, a second tab)."""
    pending = list(streams)
    for _ in range(8):
        await chat.typing(prober, lobby_id, False)
        still = []
        for stream in pending:
            try:
                await stream.until(
                    "TypingEvent", lambda e: e["user"]["id"] == prober.id and e["isTyping"] is False, 0.5
                )
            except (TimeoutError, AssertionError) as error:
                if isinstance(error, StreamEnded):
                    raise
                still.append(stream)
        pending = still
        if not pending:
            return
    raise AssertionError("the subscriptions never went live")


def seconds_between(earlier: str, later: str) -> float:
    return (parse_time(later) - parse_time(earlier)).total_seconds()


def recent(value: str, now: datetime, slack: float = 30) -> bool:
    return abs((parse_time(value) - now).total_seconds()) < slack
