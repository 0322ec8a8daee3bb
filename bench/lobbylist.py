"""The lobby list: `lobbies(first: 50)` with owners and counts, one request at a time, timed."""

from __future__ import annotations

import time
from typing import Any

from bench.clients import HttpConnection
from bench.infra import Server, cpu_percent
from bench.seed import BenchUser

LOBBIES = """
query Lobbies($first: Int, $after: String, $filter: LobbyFilter) {
  lobbies(first: $first, after: $after, filter: $filter) {
    edges {
      cursor
      node { id name status participantCount maxParticipants hasPassword owner { id username } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
LOBBIES_WITH_TOTAL = LOBBIES.replace("pageInfo {", "totalCount pageInfo {")


async def run(
    server: Server,
    viewer: BenchUser,
    *,
    requests: int,
    total_count: bool = False,
    tags: list[str] | None = None,
) -> dict[str, Any]:
    connection = HttpConnection("127.0.0.1", server.port)
    query = LOBBIES_WITH_TOTAL if total_count else LOBBIES
    variables: dict[str, Any] = {"first": 50}
    if tags:
        variables["filter"] = {"tags": tags}
    body = {"query": query, "variables": variables}
    try:
        for _ in range(20):  # warm caches and the connection pool
            answer = await connection.post_json("/graphql", body, viewer.token)
            if answer.get("errors") or len(answer["data"]["lobbies"]["edges"]) != 50:
                raise RuntimeError(f"unexpected answer: {str(answer)[:500]}")
        timings = []
        cpu_before = server.cpu()
        for _ in range(requests):
            started = time.perf_counter_ns()
            await connection.post_json("/graphql", body, viewer.token)
            timings.append(time.perf_counter_ns() - started)
        cpu_after = server.cpu()
    finally:
        await connection.close()
    timings.sort()

    def pct(fraction: float) -> float:
        return round(timings[min(len(timings) - 1, round(fraction * len(timings)) - 1)] / 1e6, 2)

    return {
        "query": "lobbies(first: 50"
        + (", filter: {tags: [" + ", ".join(f'"{tag}"' for tag in tags) + "]}" if tags else "")
        + ") { owner participantCount"
        + (" totalCount" if total_count else "")
        + " }",
        "requests": requests,
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": round(timings[-1] / 1e6, 2),
        "requests_per_s": round(requests / (sum(timings) / 1e9), 1),
        "server_cpu_pct": round(cpu_percent(cpu_before, cpu_after), 1),
    }
