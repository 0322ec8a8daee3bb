"""Presence and typing state, in process and on Redis: first join, last leave, expiry, several processes."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from premiumchat.realtime.presence import Presence, PresenceUnavailable, TypingState
from premiumchat.realtime.typing_state import TypingStateUnavailable
from tests import services
from tests.redis_server import RedisServer
from tests.servers import free_port

WAIT_SECONDS = 5
POLL_SECONDS = 0.02


def new_prefix() -> str:
    # Redis is shared with other tests and processes: never reuse a key.
    return f"test-presence:{uuid.uuid4().hex}"


@pytest.fixture
async def presence(redis_url: str | None) -> AsyncIterator[Presence]:
    presence = Presence(redis_url, prefix=new_prefix())
    await presence.start()
    yield presence
    await presence.stop()


@pytest.fixture
async def typing_state(redis_url: str | None) -> AsyncIterator[TypingState]:
    state = TypingState(redis_url, prefix=new_prefix())
    yield state
    await state.close()


async def eventually_online(presence: Presence, lobby_id: int, users: list[int]) -> None:
    for _ in range(round(WAIT_SECONDS / POLL_SECONDS)):
        if await presence.online([lobby_id]) == {lobby_id: users}:
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"lobby {lobby_id} still not {users} after {WAIT_SECONDS} s")


async def crash(presence: Presence) -> None:
    """End a Presence as a killed process would: no more heartbeats, nothing removed."""
    assert presence._mine._heartbeat is not None
    presence._mine._heartbeat.cancel()
    await asyncio.wait([presence._mine._heartbeat])
    await presence._store.close()


async def test_first_join_and_last_leave(presence: Presence) -> None:
    assert await presence.join(1, 10, "tab-a") is True
    assert await presence.join(1, 10, "tab-b") is False  # a second tab
    assert await presence.join(1, 11, "tab-c") is True
    assert await presence.join(2, 10, "tab-d") is True  # another lobby
    assert await presence.online([1, 2, 3, 1]) == {1: [10, 11], 2: [10], 3: []}
    assert await presence.online([]) == {}

    assert await presence.leave(1, 10, "tab-a") is False  # tab-b remains
    assert await presence.leave(1, 10, "tab-a") is False  # no longer registered
    assert await presence.leave(1, 10, "unknown") is False
    assert await presence.leave(1, 10, "tab-b") is True
    assert await presence.online([1, 2]) == {1: [11], 2: [10]}

    # One subscription registered twice is still one.
    assert await presence.join(1, 11, "tab-c") is False
    assert await presence.leave(1, 11, "tab-c") is True
    # User ids are told apart whole: 1 is not a prefix match for 11.
    assert await presence.join(3, 11, "x") is True
    assert await presence.join(3, 1, "x") is True
    assert await presence.leave(3, 1, "x") is True
    assert await presence.online([1, 3]) == {1: [], 3: [11]}


async def test_tabs_joining_and_leaving_together_get_one_true(presence: Presence) -> None:
    for lobby_id in range(3):
        # More at once than redis-py's default pool has connections: they wait, none fails.
        tabs = [f"tab-{number}" for number in range(150)]
        joined = await asyncio.gather(*(presence.join(lobby_id, 7, tab) for tab in tabs))
        assert joined.count(True) == 1
        left = await asyncio.gather(*(presence.leave(lobby_id, 7, tab) for tab in tabs))
        assert left.count(True) == 1
    assert await presence.online(list(range(3))) == {lobby_id: [] for lobby_id in range(3)}


async def test_entries_expire_without_a_heartbeat(redis_url: str | None) -> None:
    presence = Presence(redis_url, ttl_seconds=0.3, prefix=new_prefix())  # never started
    try:
        assert await presence.join(1, 7, "tab") is True
        assert await presence.online([1]) == {1: [7]}
        started = time.monotonic()
        await eventually_online(presence, 1, [])
        assert time.monotonic() - started > 0.2
        # The expired entry does not count: joining again is a first join.
        assert await presence.join(1, 7, "other-tab") is True
    finally:
        await presence.stop()


async def test_the_heartbeat_keeps_entries_alive(redis_url: str | None) -> None:
    presence = Presence(redis_url, ttl_seconds=0.2, prefix=new_prefix())
    await presence.start()
    try:
        assert await presence.join(1, 7, "tab") is True
        await asyncio.sleep(0.7)  # more than three ttl
        assert await presence.online([1]) == {1: [7]}
        assert await presence.leave(1, 7, "tab") is True
    finally:
        await presence.stop()


async def test_a_stalled_heartbeat_revives_its_entries_but_never_one_that_left(redis_url: str | None) -> None:
    presence = Presence(redis_url, ttl_seconds=0.6, prefix=new_prefix())
    try:
        assert await presence.join(1, 7, "stalled") is True
        assert await presence.join(1, 8, "left") is True
        assert await presence.leave(1, 8, "left") is True
        # A heartbeat that was on its way while "left" left arrives late.
        await presence._store.beat({1: [(8, "left")]})
        assert await presence.online([1]) == {1: [7]}

        # The process stalls for longer than a ttl, then its heartbeat runs again.
        await eventually_online(presence, 1, [])
        await presence.start()
        await eventually_online(presence, 1, [7])
        assert await presence.leave(1, 7, "stalled") is True
    finally:
        await presence.stop()


@pytest.mark.redis
async def test_two_tabs_on_two_processes_get_one_join_and_one_leave() -> None:
    url, prefix = services.require_redis(), new_prefix()
    first, second = Presence(url, prefix=prefix), Presence(url, prefix=prefix)
    await first.start()
    await second.start()
    try:
        for lobby_id in range(20):  # several rounds: a race seldom shows on the first
            joined = await asyncio.gather(first.join(lobby_id, 7, "tab-1"), second.join(lobby_id, 7, "tab-2"))
            assert sorted(joined) == [False, True]
            assert await first.online([lobby_id]) == await second.online([lobby_id]) == {lobby_id: [7]}
            left = await asyncio.gather(first.leave(lobby_id, 7, "tab-1"), second.leave(lobby_id, 7, "tab-2"))
            assert sorted(left) == [False, True]
        # One tab left while the other stays: no leave for the user.
        assert await first.join(99, 7, "tab-1") is True
        assert await second.join(99, 7, "tab-2") is False
        assert await first.leave(99, 7, "tab-1") is False
        assert await second.online([99]) == {99: [7]}
    finally:
        await first.stop()
        await second.stop()


@pytest.mark.redis
async def test_stop_removes_the_entries_of_its_process_only() -> None:
    url, prefix = services.require_redis(), new_prefix()
    leaving, staying = Presence(url, prefix=prefix), Presence(url, prefix=prefix)
    await leaving.start()
    await staying.start()
    try:
        await leaving.join(1, 7, "tab-1")
        await leaving.join(2, 8, "tab-2")
        await staying.join(1, 9, "tab-3")
        await leaving.stop()
        assert await staying.online([1, 2]) == {1: [9], 2: []}
    finally:
        await staying.stop()


@pytest.mark.redis
async def test_a_crashed_process_leaves_no_ghost() -> None:
    url, prefix = services.require_redis(), new_prefix()
    crashed, survivor = Presence(url, ttl_seconds=0.5, prefix=prefix), Presence(url, prefix=prefix)
    await crashed.start()
    await survivor.start()
    try:
        assert await crashed.join(1, 7, "tab-1") is True
        assert await survivor.join(1, 8, "tab-2") is True
        await crash(crashed)
        assert await survivor.online([1]) == {1: [7, 8]}
        started = time.monotonic()
        await eventually_online(survivor, 1, [8])
        assert 0.2 < time.monotonic() - started < 2
        # The user coming back on the survivor is a first join again.
        assert await survivor.join(1, 7, "tab-3") is True
    finally:
        await survivor.stop()


class Gone:
    """An `on_gone` that records what it is told."""

    def __init__(self) -> None:
        self.told: list[tuple[int, int]] = []

    async def __call__(self, lobby_id: int, user_ids: list[int]) -> None:
        self.told.extend((lobby_id, user_id) for user_id in user_ids)

    async def until(self, expected: list[tuple[int, int]]) -> None:
        for _ in range(round(WAIT_SECONDS / POLL_SECONDS)):
            if sorted(self.told) == expected:
                return
            await asyncio.sleep(POLL_SECONDS)
        raise AssertionError(f"told {sorted(self.told)}, not {expected}, after {WAIT_SECONDS} s")


@pytest.mark.redis
async def test_survivors_reap_a_crashed_process_and_exactly_one_reports_each_user() -> None:
    url, prefix, ttl = services.require_redis(), new_prefix(), 0.3
    crashed = Presence(url, ttl_seconds=ttl, prefix=prefix)
    survivors = [Presence(url, ttl_seconds=ttl, prefix=prefix) for _ in range(2)]
    gone = Gone()
    await crashed.start()
    for survivor in survivors:
        await survivor.start(on_gone=gone)
    try:
        assert await crashed.join(1, 7, "tab-1") is True
        assert await crashed.join(1, 7, "tab-2") is False
        assert await crashed.join(1, 8, "tab-3") is True
        assert await crashed.join(2, 7, "tab-4") is True  # no survivor is its audience: nobody reaps it
        assert await crashed.join(3, 9, "tab-5") is True  # 9 is online on a survivor too
        for lobby_id, user_id in ((1, 10), (3, 9)):
            for number, survivor in enumerate(survivors):
                await survivor.join(lobby_id, user_id, f"survivor-{number}")
        await crash(crashed)
        await eventually_online(survivors[0], 1, [10])
        # Users 7 and 8 leave lobby 1 once each (7 had two tabs), on one survivor only.
        await gone.until([(1, 7), (1, 8)])
        await asyncio.sleep(4 * ttl)  # more heartbeats of both survivors: nobody is told twice
        assert sorted(gone.told) == [(1, 7), (1, 8)]
        assert await survivors[1].online([1, 3]) == {1: [10], 3: [9]}
        # Reaped, gone: the user coming back is a first join, and a late leave of
        # a crashed tab reports nothing more.
        assert await survivors[0].join(1, 7, "tab-6") is True
        assert await survivors[0].leave(1, 8, "tab-3") is False
    finally:
        for survivor in survivors:
            await survivor.stop()


@pytest.mark.redis
async def test_an_entry_stalled_within_its_grace_is_not_reaped_and_revives() -> None:
    url, prefix, ttl = services.require_redis(), new_prefix(), 0.6
    stalled = Presence(url, ttl_seconds=ttl, prefix=prefix)  # never started: no heartbeat yet
    reaper = Presence(url, ttl_seconds=ttl, prefix=prefix)
    gone = Gone()
    await reaper.start(on_gone=gone)
    try:
        assert await stalled.join(1, 7, "stalled") is True
        assert await reaper.join(1, 8, "tab") is True
        await eventually_online(reaper, 1, [8])  # expired: dead, within its grace
        await stalled.start()  # its heartbeat runs again
        await eventually_online(reaper, 1, [7, 8])
        await asyncio.sleep(3 * ttl)  # beyond the grace had it not revived
        assert gone.told == []
        assert await stalled.leave(1, 7, "stalled") is True  # its own last leave reports it
        await asyncio.sleep(2 * ttl)
        assert gone.told == []
    finally:
        await stalled.stop()
        await reaper.stop()


@pytest.mark.redis
async def test_a_user_with_a_revivable_entry_is_reported_once_its_last_entry_is_reaped() -> None:
    url, prefix, ttl = services.require_redis(), new_prefix(), 1.0
    crashed, stalled = (Presence(url, ttl_seconds=ttl, prefix=prefix) for _ in range(2))
    reaper = Presence(url, ttl_seconds=ttl, prefix=prefix)
    gone = Gone()
    redis = Redis.from_url(url)
    key = f"{prefix}:presence:lobby:1"
    await crashed.start()
    await reaper.start(on_gone=gone)
    try:
        assert await reaper.join(1, 8, "tab") is True
        assert await crashed.join(1, 7, "crashed") is True
        await crash(crashed)
        await asyncio.sleep(ttl)
        await stalled.join(1, 7, "stalled")  # never refreshed: beyond revival a ttl after the crashed tab
        for _ in range(round(WAIT_SECONDS / POLL_SECONDS)):
            if await redis.zscore(key, "7:crashed") is None:
                break
            await asyncio.sleep(POLL_SECONDS)
        else:
            raise AssertionError("the crashed tab was never reaped")
        told = list(gone.told)
        # While the stalled tab can still be revived, reaping the crashed one reports nothing...
        assert await redis.zscore(key, "7:stalled") is not None
        assert told == []
        # ...and once the stalled tab is beyond revival too, 7 leaves, once.
        await gone.until([(1, 7)])
        await asyncio.sleep(ttl)
        assert gone.told == [(1, 7)]
    finally:
        await redis.aclose()
        await stalled.stop()
        await reaper.stop()


@pytest.mark.redis
async def test_the_heartbeat_outlives_a_redis_outage(
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="premiumchat.realtime")
    presence = Presence(private_redis.url, ttl_seconds=0.3, prefix=new_prefix())
    await presence.start()
    try:
        assert await presence.join(1, 7, "tab-1") is True
        private_redis.kill()
        for _ in range(round(WAIT_SECONDS / POLL_SECONDS)):
            if "heartbeat failed" in caplog.text:
                break
            await asyncio.sleep(POLL_SECONDS)
        assert "heartbeat failed" in caplog.text

        # Redis comes back empty. (The event bus ends every subscription when
        # Redis goes, so clients resubscribe and join again.)
        await asyncio.to_thread(private_redis.start)
        assert await presence.join(1, 8, "tab-2") is True
        await asyncio.sleep(0.7)  # the heartbeat runs again: more than two ttl
        assert await presence.online([1]) == {1: [8]}

        private_redis.kill()
        await presence.stop()  # logs, and still closes
        assert "cannot remove this process's entries" in caplog.text
    finally:
        await presence.stop()


@pytest.mark.redis
async def test_redis_keys_carry_the_prefix_and_expire() -> None:
    url, prefix = services.require_redis(), new_prefix()
    presence = Presence(url, ttl_seconds=5, prefix=prefix)
    client = Redis.from_url(url)
    try:
        await presence.join(1, 7, "tab")
        assert await client.zrange(f"{prefix}:presence:lobby:1", 0, -1) == [b"7:tab"]
        # A lobby nobody refreshes disappears: at most ttl, plus ttl of grace.
        assert 0 < await client.pttl(f"{prefix}:presence:lobby:1") <= 10_000
    finally:
        await client.aclose()
        await presence.stop()
    assert await _keys(url, prefix) == []


async def test_an_unreachable_redis_raises_and_stop_still_closes() -> None:
    presence = Presence(f"redis://127.0.0.1:{free_port()}/0", prefix=new_prefix())
    await presence.start()
    started = time.monotonic()
    with pytest.raises(PresenceUnavailable, match="cannot reach Redis"):
        await presence.join(1, 7, "tab")
    with pytest.raises(ConnectionError):  # callers may catch the built-in base
        await presence.online([1])
    assert presence._mine._mine == {}  # a failed join is not refreshed by the heartbeat
    await presence.stop()
    assert time.monotonic() - started < WAIT_SECONDS


async def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="redis://"):
        Presence("memory://")
    with pytest.raises(ValueError, match="positive"):
        Presence(None, ttl_seconds=0)
    with pytest.raises(ValueError, match="redis://"):
        TypingState("memcached://localhost")
    presence = Presence(None)
    await presence.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            await presence.start()
    finally:
        await presence.stop()


async def test_typing_starts_renews_and_stops(typing_state: TypingState) -> None:
    await typing_state.start(1, 7, 60)
    assert await typing_state.stop(1, 7) is True
    assert await typing_state.stop(1, 7) is False  # already stopped
    assert await typing_state.stop(2, 7) is False  # never started

    await typing_state.start(1, 7, 60)
    await typing_state.start(2, 7, 60)
    await typing_state.start(1, 8, 60)
    assert await typing_state.stop(1, 7) is True
    assert await typing_state.stop(2, 7) is True  # lobbies and users are independent
    assert await typing_state.stop(1, 8) is True

    with pytest.raises(ValueError, match="positive"):
        await typing_state.start(1, 7, 0)


async def test_typing_expires_unless_renewed(typing_state: TypingState) -> None:
    await typing_state.start(1, 7, 0.1)
    await asyncio.sleep(0.2)
    assert await typing_state.stop(1, 7) is False

    await typing_state.start(1, 7, 0.3)
    await asyncio.sleep(0.2)
    await typing_state.start(1, 7, 0.3)  # renewed before it expired
    await asyncio.sleep(0.2)  # 0.4 s after the first start
    assert await typing_state.stop(1, 7) is True


async def test_typing_in_process_forgets_expired_flags() -> None:
    state = TypingState(None)
    try:
        for round_number in range(10):
            for user_id in range(100):
                await state.start(1, round_number * 100 + user_id, 0.001)
            await asyncio.sleep(0.005)
        # 1000 flags set, all but the last round's expired: swept as it went.
        assert len(state._until) <= 300
    finally:
        await state.close()


@pytest.mark.redis
async def test_typing_is_shared_between_processes() -> None:
    url, prefix = services.require_redis(), new_prefix()
    first, second = TypingState(url, prefix=prefix), TypingState(url, prefix=prefix)
    client = Redis.from_url(url)
    try:
        await first.start(1, 7, 5)
        assert 0 < await client.pttl(f"{prefix}:typing:1:7") <= 5000
        assert await second.stop(1, 7) is True
        assert await first.stop(1, 7) is False
    finally:
        await client.aclose()
        await first.close()
        await second.close()


async def test_typing_on_an_unreachable_redis_raises() -> None:
    state = TypingState(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(TypingStateUnavailable, match="cannot reach Redis"):
            await state.start(1, 7, 5)
        with pytest.raises(ConnectionError):
            await state.stop(1, 7)
    finally:
        await state.close()


async def _keys(url: str, prefix: str) -> list[bytes]:
    client = Redis.from_url(url)
    try:
        return [key async for key in client.scan_iter(match=f"{prefix}:*")]
    finally:
        await client.aclose()
