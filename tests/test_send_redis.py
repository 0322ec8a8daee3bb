"""The Redis side of an accepted send: its round trips, counted on the client's real connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from redis.asyncio.connection import AbstractConnection

from premiumchat.realtime.channels import lobby_channel
from tests.lobbies import app_with, make_users
from tests.realtime import Chat
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis


def command_names(packed: bytes) -> list[str]:
    """The name of each command in what one write sent (a pipeline sends several)."""
    names, at = [], 0
    while at < len(packed):
        assert packed[at : at + 1] == b"*", packed[at:]
        end = packed.index(b"\r\n", at)
        count, at = int(packed[at + 1 : end]), end + 2
        for index in range(count):
            end = packed.index(b"\r\n", at)
            length, at = int(packed[at + 1 : end]), end + 2
            if index == 0:
                names.append(packed[at : at + length].decode().upper())
            at += length + 2
    return names


@contextmanager
def redis_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Every write to Redis from this process (one per round trip), as its command names."""
    trips: list[list[str]] = []
    send = AbstractConnection.send_packed_command

    async def counted(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        chunks = [command] if isinstance(command, bytes | str) else list(command)
        packed = b"".join(chunk.encode() if isinstance(chunk, str) else bytes(chunk) for chunk in chunks)
        names = command_names(packed)
        if names != ["PING"]:  # the bus's subscriber connection probes itself when quiet
            trips.append(names)
        await send(self, command, check_health)

    with monkeypatch.context() as patch:
        patch.setattr(AbstractConnection, "send_packed_command", counted)
        yield trips


async def test_an_accepted_send_is_two_redis_round_trips_and_its_events_keep_their_order(
    database_url: str, private_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with app_with(database_url, redis_url=private_redis.url, rate_limit_messages=1000) as (
        gql,
        resources,
    ):
        chat = Chat(gql)
        users = await make_users(gql, database_url, ["ann", "bob"], premium=["ann"])
        lobby_id = (await chat.create_lobby(users["ann"], "Round trips"))["id"]
        bob = users["bob"]
        await chat.join(bob, lobby_id)
        await chat.send(bob, lobby_id, "warm up")  # Redis learns each script once

        async with resources.bus.subscribe(lobby_channel(int(lobby_id))) as events:

            async def next_event() -> dict[str, Any]:
                event: dict[str, Any] = orjson.loads(await events.get())
                return event

            # The rate limit's script, then one that clears the typing flag and publishes.
            with redis_round_trips(monkeypatch) as trips:
                sent = await chat.send(bob, lobby_id, "not typing")
            assert trips == [["EVALSHA"], ["EVALSHA"]]
            event = await next_event()
            assert (event["type"], event["message"]["id"]) == ("ChatMessageEvent", sent["id"])

            # Typing, then sending: the message, then isTyping false, in the same two round trips.
            await chat.typing(bob, lobby_id, True)
            assert (await next_event())["isTyping"] is True
            with redis_round_trips(monkeypatch) as trips:
                typed = await chat.send(bob, lobby_id, "typed")
            assert trips == [["EVALSHA"], ["EVALSHA"]]
            event = await next_event()
            assert (event["type"], event["message"]["id"]) == ("ChatMessageEvent", typed["id"])
            event = await next_event()
            assert (event["type"], event["user"]["id"], event["isTyping"]) == ("TypingEvent", bob.id, False)

            # The flag is gone: the next message comes alone (the next event is bob typing again).
            again = await chat.send(bob, lobby_id, "again")
            await chat.typing(bob, lobby_id, True)
            event = await next_event()
            assert (event["type"], event["message"]["id"]) == ("ChatMessageEvent", again["id"])
            event = await next_event()
            assert (event["type"], event["isTyping"]) == ("TypingEvent", True)
