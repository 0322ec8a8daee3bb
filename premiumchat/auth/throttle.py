"""Login throttling: failed logins counted per client address and per username, across processes.

Only failures count, so a user who types their password right is never slowed by
their own typos beyond the limits, and success resets nothing an attacker could use.
The per-address limit is the strict one (one machine guessing); the per-username
limit is generous, so that locking someone out takes many addresses, while a
distributed guess at one account is still slowed. Counting goes through the app's
RateLimiter: in process without REDIS_URL, shared by every process with it.
"""

from __future__ import annotations

import hashlib

from premiumchat import validation
from premiumchat.config import Settings
from premiumchat.errors import RateLimited
from premiumchat.realtime.ratelimit import RateLimiter

BY_ADDRESS = "login-address"
BY_USERNAME = "login-username"


class LoginThrottle:
    def __init__(self, limiter: RateLimiter, settings: Settings, address: str | None) -> None:
        self.limiter = limiter
        self.window = settings.login_failure_window_seconds
        self.address = address or "unknown"
        self.per_address = settings.login_failures_per_address
        self.per_username = settings.login_failures_per_username

    def _keys(self, username: str) -> list[tuple[str, str, int]]:
        # The username's case-insensitive identity, so that "Alice" and "ALICE" share a count;
        # hashed, so that a 100,000-character "username" makes a key of normal size.
        name = hashlib.sha256(validation.username_key(username).encode("utf-8", "surrogatepass")).hexdigest()
        return [
            (BY_ADDRESS, self.address, self.per_address),
            (BY_USERNAME, name, self.per_username),
        ]

    async def check(self, username: str) -> None:
        """RATE_LIMITED (with retryAfter) when either count is full; counts nothing."""
        waits = [
            await self.limiter.retry_after(namespace, key, limit, self.window)
            for namespace, key, limit in self._keys(username)
        ]
        blocked = [wait for wait in waits if wait is not None]
        if blocked:
            raise RateLimited(max(blocked), "Too many failed logins: retry later.")

    async def failed(self, username: str) -> None:
        for namespace, key, limit in self._keys(username):
            await self.limiter.hit(namespace, key, limit, self.window)
