"""The event bus, on memory:// and on Redis: fan-out, bounded queues, clean-up, reconnection."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
from broadcaster._backends.memory import MemoryBackend
from redis.asyncio import Redis

from premiumchat.realtime import bus as bus_module
from premiumchat.realtime import redis_backend
from premiumchat.realtime.bus import (
    BusConnectionLost,
    EventBus,
    SubscriberLagging,
    Subscription,
    SubscriptionEnded,
)
from premiumchat.realtime.channels import LOBBY_LIST_CHANNEL, lobby_channel, user_channel
from premiumchat.realtime.redis_backend import RedisBackend
from tests import services
from tests.redis_server import RedisServer

WAIT_SECONDS = 5
POLL_SECONDS = 0.01


def new_channel(name: str = "test") -> str:
    # Redis is shared with other tests and processes: never reuse a channel name.
    return f"test-bus:{uuid.uuid4().hex}:{name}"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def bus_url(request: pytest.FixtureRequest) -> str:
    return "memory://" if request.param == "memory" else services.require_redis()


@pytest.fixture
async def bus(bus_url: str) -> AsyncIterator[EventBus]:
    bus = EventBus(bus_url)
    await bus.connect()
    yield bus
    await bus.disconnect()


async def receive(subscription: Subscription, count: int) -> list[str]:
    async with asyncio.timeout(WAIT_SECONDS):
        return [await subscription.get() for _ in range(count)]


async def receive_until(subscription: Subscription, last: str) -> list[str]:
    received: list[str] = []
    async with asyncio.timeout(WAIT_SECONDS):
        while not received or received[-1] != last:
            received.append(await subscription.get())
    return received


async def eventually(condition: Callable[[], object]) -> None:
    for _ in range(round(WAIT_SECONDS / POLL_SECONDS)):
        if condition():
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"still false after {WAIT_SECONDS} s")


async def backend_subscribed(bus: EventBus, channel: str) -> bool:
    """Whether the backend itself listens to the channel (for Redis, as the server sees it)."""
    backend = bus._backend
    if isinstance(backend, MemoryBackend):
        return channel in backend._subscribed
    assert isinstance(backend, RedisBackend)
    [(_, count)] = await backend._client.pubsub_numsub(channel)
    return bool(count)


async def eventually_backend_subscribed(bus: EventBus, channel: str, expected: bool) -> None:
    # UNSUBSCRIBE is not awaited: give Redis a moment to act on it.
    for _ in range(round(WAIT_SECONDS / POLL_SECONDS)):
        if await backend_subscribed(bus, channel) == expected:
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"{channel} still {'un' if expected else ''}subscribed after {WAIT_SECONDS} s")


def assert_no_leftovers(bus: EventBus) -> None:
    assert bus._channels == {}
    backend = bus._backend
    if isinstance(backend, MemoryBackend):
        assert backend._subscribed == set()
    else:
        assert isinstance(backend, RedisBackend)
        assert backend._confirmations == {}


def test_channel_names() -> None:
    assert lobby_channel(7) == "lobby:7"
    assert user_channel(7) == "user:7"
    assert LOBBY_LIST_CHANNEL == "lobbies"


def test_rejects_unknown_urls_and_empty_queues() -> None:
    with pytest.raises(ValueError, match="postgres"):
        EventBus("postgres://localhost/db")
    with pytest.raises(ValueError, match="queue_size"):
        EventBus("memory://", queue_size=0)


async def test_subscribers_arriving_together_all_receive_their_channel_in_order(bus: EventBus) -> None:
    channels = [new_channel(f"race-{index}") for index in range(100)]
    per_channel, messages = 8, 5
    async with AsyncExitStack() as stack:
        # Everyone subscribes at the same moment: broadcaster alone would leave
        # all but one subscriber of each channel deaf.
        subscriptions = await asyncio.gather(
            *(
                stack.enter_async_context(bus.subscribe(channel))
                for channel in channels
                for _ in range(per_channel)
            )
        )
        assert all(bus.subscriber_count(channel) == per_channel for channel in channels)

        async def publish_all(channel: str) -> None:
            for number in range(messages):
                await bus.publish(channel, f"{channel}#{number}")
            await bus.publish(channel, f"{channel}#end")

        await asyncio.gather(*(publish_all(channel) for channel in channels))
        received = await asyncio.gather(*(receive_until(sub, f"{sub.channel}#end") for sub in subscriptions))
        for subscription, got in zip(subscriptions, received, strict=True):
            expected = [f"{subscription.channel}#{number}" for number in range(messages)]
            assert got == [*expected, f"{subscription.channel}#end"]
    assert_no_leftovers(bus)


async def test_a_lagging_subscriber_is_dropped_and_the_others_lose_nothing(
    bus_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bus = EventBus(bus_url, queue_size=4)
    await bus.connect()
    channel = new_channel()
    try:
        async with bus.subscribe(channel) as slow, bus.subscribe(channel) as healthy:
            received = []
            # The slow one never reads; the dispatch loop must not wait for it.
            for number in range(10):
                await bus.publish(channel, str(number))
                received.append(await asyncio.wait_for(healthy.get(), WAIT_SECONDS))
            assert received == [str(number) for number in range(10)]
            # Its queue held 4 when the 5th arrived: dropped then, and told so at once.
            assert slow.ended
            with pytest.raises(SubscriberLagging):
                await slow.get()
            with pytest.raises(SubscriberLagging):
                async for _ in slow:
                    pass
            assert bus.subscriber_count(channel) == 1
            assert "lagging" in caplog.text

            async with bus.subscribe(channel) as late:
                await bus.publish(channel, "after")
                assert await receive(late, 1) == ["after"]
                assert await receive(healthy, 1) == ["after"]
        assert_no_leftovers(bus)
    finally:
        await bus.disconnect()


async def test_the_last_subscriber_to_leave_unsubscribes_the_backend(bus: EventBus) -> None:
    channel = new_channel()
    async with bus.subscribe(channel):
        async with bus.subscribe(channel):
            assert await backend_subscribed(bus, channel)
        assert bus.subscriber_count(channel) == 1
        assert await backend_subscribed(bus, channel)
    assert bus.subscriber_count(channel) == 0
    await eventually_backend_subscribed(bus, channel, False)
    assert_no_leftovers(bus)


async def test_many_subscribe_cycles_leak_nothing(bus: EventBus) -> None:
    channels = [new_channel(f"cycle-{index}") for index in range(5)]

    async def cycle(channel: str, rounds: int) -> None:
        for number in range(rounds):
            async with bus.subscribe(channel) as subscription:
                await bus.publish(channel, str(number))
                # Overlapping cycles on one channel may see each other's messages.
                assert (await receive(subscription, 1))[0].isdigit()

    await asyncio.gather(*(cycle(channel, 20) for channel in channels for _ in range(3)))
    assert_no_leftovers(bus)
    for channel in channels:
        await eventually_backend_subscribed(bus, channel, False)
    await bus.publish(channels[0], "nobody listens")


async def test_a_subscription_cancelled_while_waiting_cleans_up(bus: EventBus) -> None:
    channel = new_channel()
    entered = asyncio.Event()

    async def listen() -> None:
        async with bus.subscribe(channel) as subscription:
            entered.set()
            await subscription.get()

    task = asyncio.create_task(listen())
    await asyncio.wait_for(entered.wait(), WAIT_SECONDS)
    task.cancel()
    await asyncio.wait([task], timeout=WAIT_SECONDS)
    assert task.cancelled()
    assert_no_leftovers(bus)


async def test_closing_the_bus_ends_iteration(bus_url: str) -> None:
    bus = EventBus(bus_url)
    await bus.connect()
    channel = new_channel()
    async with bus.subscribe(channel) as subscription:
        received: list[str] = []

        async def consume() -> None:
            async for message in subscription:
                received.append(message)

        consumer = asyncio.create_task(consume())
        await bus.publish(channel, "one")
        await eventually(lambda: received == ["one"])
        await bus.disconnect()
        await asyncio.wait_for(consumer, WAIT_SECONDS)  # the loop ended without an error
        with pytest.raises(SubscriptionEnded):
            await subscription.get()
    assert bus._channels == {}
    with pytest.raises(RuntimeError, match="not connected"):
        await bus.publish(channel, "late")


async def test_memory_buses_are_separate() -> None:
    first, second = EventBus("memory://"), EventBus("memory://")
    await first.connect()
    await second.connect()
    channel = new_channel()
    try:
        async with first.subscribe(channel) as mine, second.subscribe(channel) as theirs:
            await second.publish(channel, "for second only")
            await first.publish(channel, "for first only")
            assert await receive(mine, 1) == ["for first only"]
            assert await receive(theirs, 1) == ["for second only"]
    finally:
        await first.disconnect()
        await second.disconnect()


@pytest.mark.redis
async def test_buses_on_one_redis_see_each_others_messages() -> None:
    url = services.require_redis()
    first, second = EventBus(url), EventBus(url)
    await first.connect()
    await second.connect()
    channel = new_channel()
    try:
        async with first.subscribe(channel) as on_first, second.subscribe(channel) as on_second:
            await first.publish(channel, "from first")
            await second.publish(channel, "from second")
            assert await receive(on_first, 2) == ["from first", "from second"]
            assert await receive(on_second, 2) == ["from first", "from second"]
    finally:
        await first.disconnect()
        await second.disconnect()


@pytest.mark.redis
async def test_delete_and_publish_publishes_the_rest_only_when_the_key_was_there() -> None:
    url = services.require_redis()
    bus, client = EventBus(url), Redis.from_url(url)
    await bus.connect()
    channel, key = new_channel(), f"test-bus:{uuid.uuid4().hex}:flag"
    try:
        async with bus.subscribe(channel) as subscription:
            was_set = [(channel, "was set")]
            await bus.delete_and_publish(key, [(channel, "first"), (channel, "second")], was_set)
            await client.set(key, 1)
            await bus.delete_and_publish(key, [(channel, "third")], was_set)
            await bus.publish(channel, "last")
            received = await receive_until(subscription, "last")
            assert received == ["first", "second", "third", "was set", "last"]
            assert await client.exists(key) == 0
    finally:
        await client.aclose()
        await bus.disconnect()


async def test_delete_and_publish_needs_redis() -> None:
    bus = EventBus("memory://")
    await bus.connect()
    try:
        with pytest.raises(RuntimeError, match="keeps no keys"):
            await bus.delete_and_publish("key", [("channel", "message")], [])
    finally:
        await bus.disconnect()


@pytest.mark.redis
async def test_a_redis_restart_ends_subscriptions_and_the_bus_recovers(
    private_redis: RedisServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bus_module, "PUBLISH_RETRY_SECONDS", 0.2)
    caplog.set_level(logging.WARNING, logger="premiumchat.realtime")
    bus = EventBus(private_redis.url)
    await bus.connect()
    channel, other = new_channel(), new_channel()
    try:
        async with bus.subscribe(channel) as subscription, bus.subscribe(other) as idle:
            await bus.publish(channel, "before")
            assert await receive(subscription, 1) == ["before"]

            private_redis.kill()
            for ended in (subscription, idle):
                with pytest.raises(BusConnectionLost):
                    await asyncio.wait_for(ended.get(), WAIT_SECONDS)
            assert not bus.connected

            # While Redis is down nothing hangs: subscribing fails at once, and
            # a publish is retried briefly, then dropped with an error logged.
            with pytest.raises(BusConnectionLost):
                async with bus.subscribe(channel):
                    pass
            started = time.monotonic()
            await bus.publish(channel, "lost")
            await bus.delete_and_publish("flag", [(channel, "lost too")], [])
            assert time.monotonic() - started < 3
            assert "dropped a message" in caplog.text

        await asyncio.to_thread(private_redis.start)
        await eventually(lambda: bus.connected)
        async with bus.subscribe(channel) as subscription:
            await bus.publish(channel, "after")
            # The restarted Redis has forgotten the script: it is loaded again.
            await bus.delete_and_publish("flag", [(channel, "after too")], [])
            assert await receive(subscription, 2) == ["after", "after too"]
        assert_no_leftovers(bus)
        assert "lost the connection" in caplog.text
    finally:
        await bus.disconnect()


@pytest.mark.redis
async def test_a_silent_redis_is_detected_by_ping(
    private_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_backend, "IDLE_PING_SECONDS", 0.1)
    bus = EventBus(private_redis.url)
    await bus.connect()
    channel = new_channel()
    try:
        async with bus.subscribe(channel) as subscription:
            # A paused server keeps the socket open but never answers.
            private_redis.pause()
            try:
                with pytest.raises(BusConnectionLost):
                    await asyncio.wait_for(subscription.get(), WAIT_SECONDS)
            finally:
                private_redis.resume()
        await eventually(lambda: bus.connected)
        async with bus.subscribe(channel) as subscription:
            await bus.publish(channel, "after")
            assert await receive(subscription, 1) == ["after"]
    finally:
        await bus.disconnect()


@pytest.mark.redis
async def test_a_publish_to_a_silent_redis_gives_up_at_its_deadline(
    private_redis: RedisServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bus_module, "PUBLISH_RETRY_SECONDS", 0.3)
    caplog.set_level(logging.WARNING, logger="premiumchat.realtime")
    bus = EventBus(private_redis.url)
    await bus.connect()
    channel = new_channel()
    try:
        async with bus.subscribe(channel) as subscription:
            await bus.publish(channel, "before")  # a publishing connection is open
            assert await receive(subscription, 1) == ["before"]
            private_redis.pause()
            try:
                started = time.monotonic()
                await bus.publish(channel, "unanswered")
                await bus.delete_and_publish("flag", [(channel, "unanswered too")], [])
                assert time.monotonic() - started < 2
            finally:
                private_redis.resume()
            assert caplog.text.count("dropped a message") == 2
            # The publishes that timed out closed their connections; the next one is answered.
            await bus.publish(channel, "after")
            assert (await receive_until(subscription, "after"))[-1] == "after"
    finally:
        await bus.disconnect()


@pytest.mark.redis
async def test_subscribe_returns_once_redis_has_confirmed(private_redis: RedisServer) -> None:
    bus = EventBus(private_redis.url)
    await bus.connect()
    channel = new_channel()
    try:
        async with AsyncExitStack() as stack:
            # Were it to return on sending SUBSCRIBE, a message published right
            # after could reach Redis first and be lost.
            private_redis.pause()
            try:
                subscribing = asyncio.create_task(stack.enter_async_context(bus.subscribe(channel)))
                await asyncio.sleep(0.2)
                assert not subscribing.done()
            finally:
                private_redis.resume()
            subscription = await asyncio.wait_for(subscribing, WAIT_SECONDS)
            await bus.publish(channel, "confirmed")
            assert await receive(subscription, 1) == ["confirmed"]
    finally:
        await bus.disconnect()


@pytest.mark.redis
async def test_a_bus_started_while_redis_is_down_connects_later(private_redis: RedisServer) -> None:
    private_redis.kill()
    bus = EventBus(private_redis.url)
    await bus.connect()
    channel = new_channel()
    try:
        assert not bus.connected
        with pytest.raises(BusConnectionLost):
            async with bus.subscribe(channel):
                pass
        await asyncio.to_thread(private_redis.start)
        await eventually(lambda: bus.connected)
        async with bus.subscribe(channel) as subscription:
            await bus.publish(channel, "hello")
            assert await receive(subscription, 1) == ["hello"]
    finally:
        await bus.disconnect()


async def test_an_idle_subscription_holds_no_queue(bus: EventBus) -> None:
    # Most of a socket's life its subscription waits with nothing queued: then it keeps no
    # deque (about 600 B per subscribed socket).
    channel = new_channel("idle")
    async with bus.subscribe(channel) as subscription:
        assert not any(isinstance(o, deque) for o in gc.get_referents(subscription))
        for number in range(3):
            await bus.publish(channel, f"m{number}")
        assert await receive_until(subscription, "m2") == ["m0", "m1", "m2"]
        assert not any(isinstance(o, deque) for o in gc.get_referents(subscription))
    assert_no_leftovers(bus)
