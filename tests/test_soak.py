"""The soak at full size for 60 s: 2,000 subscribed sockets over 200 lobbies, a sender per lobby at
the default message rate limit, on PostgreSQL and Redis with a real server process.

One run (a module fixture), then what must hold however loaded the machine is: no delivery lost
or duplicated, no acknowledged message missing from the database, every gauge back to idle once
the sockets are gone, and the server's RSS flat after its warm-up. How fast it went is a
benchmark figure, never asserted (`python -m bench soak` runs the 10-minute version).
SOAK_SECONDS overrides the 60 s.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

from bench.soak import RSS_TOLERANCE_MIB_PER_MIN, soak_once
from tests import services

SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
# MiB per minute (docs/RELIABILITY.md, part 4). A run of 4 minutes or more fits the RSS over its
# second half and is held to the benchmark's 2 MiB/min (10 minutes measured 1.1). A 60 s run fits
# from 15 s, while the RSS still rises by 2-4 MiB in the first minute of traffic before it levels
# off (measured: 1.8 MiB/min at load average 7), so it gets 6 MiB/min, about 2 KB per message at
# 50 messages/s. The two leaks found by the soak were 5 KB and 2.7 KB per message (16.5 MiB/min
# together in this test); at the slowest pace CI has shown, 36 messages/s, 6 MiB/min still fails
# any leak above 2.9 KB per message.
RSS_TOLERANCE = RSS_TOLERANCE_MIB_PER_MIN if SECONDS >= 240 else 6.0
# Bytes per message sent, for a short run over RSS_TOLERANCE (see the test): the leaks found were
# 5.5 KB and 2.7 KB per message.
RSS_PER_MESSAGE_BYTES = 2048

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
async def record() -> dict[str, Any]:
    base = services.POSTGRES_URL or services.DEFAULT_POSTGRES_URL
    if not services.reachable(base, 5432):
        services.unavailable("PostgreSQL", base)
    if shutil.which("redis-server") is None:
        services.unavailable("redis-server (for a private Redis)", "$PATH")
    return await soak_once(base_url=base, sockets=2000, lobbies=200, duration=SECONDS)


@pytest.mark.timeout(SECONDS + 420)
def test_every_persisted_message_reaches_every_socket_once(record: dict[str, Any]) -> None:
    # Everyone was there and every message was accepted: the senders keep to the rate limit.
    assert record["gauges_during"]["websocket_connections"] == 2000, record
    assert record["gauges_during"]["subscriptions_lobbyEvents"] == 2000, record
    assert record["gauges_during"]["lobbies_with_subscribers"] == 200, record
    assert record["messages_sent"] > 0, record
    assert record["send_errors"] == {}, record
    assert record["acked_not_persisted"] == 0, record
    assert record["persisted_not_acked"] == 0, record
    assert record["sockets_dropped"] == 0, record
    assert record["deliveries_expected"] == record["messages_sent"] * 10, record
    assert record["deliveries_received"] == record["deliveries_expected"], record
    assert record["lost"] == 0, record
    assert record["duplicated"] == 0, record
    assert record["unexpected"] == 0, record
    assert record["stream_errors"] == {}, record


def test_gauges_back_to_idle_after_everyone_disconnects(record: dict[str, Any]) -> None:
    after, idle = record["gauges_after"], record["gauges_idle"]
    assert after["websocket_connections"] == 0, record
    assert after["subscriptions_lobbyEvents"] == 0, record
    assert after["subscriptions_lobbyListUpdates"] == 0, record
    assert after["lobbies_with_subscribers"] == 0, record
    # 3 tasks per socket while connected; back to the level before any socket was opened.
    assert record["gauges_during"]["asyncio_tasks"] > idle["asyncio_tasks"], record
    assert after["asyncio_tasks"] <= idle["asyncio_tasks"], record


def test_server_rss_is_flat_after_warm_up(record: dict[str, Any]) -> None:
    assert record["rss_fit_samples"] >= 10, record
    slope = abs(record["rss_slope_mib_per_min"])
    if SECONDS >= 240:
        assert slope <= RSS_TOLERANCE, record
        return
    # A 60 s run measures inside the first minutes' rise, which is steeper the faster the server
    # sends: 14.1 MiB/min at about 250 messages/s on a quiet machine, about 1 KB per message (the
    # 10-minute run rose by 1.4 KB per message, then levelled off). A leak grows with every
    # message: it fails both the per-minute and the per-message tolerance.
    per_message = slope * 2**20 / (record["sends_per_s"] * 60)
    assert slope <= RSS_TOLERANCE or per_message <= RSS_PER_MESSAGE_BYTES, (per_message, record)
