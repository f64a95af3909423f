"""Fair use without knowing who anyone is: a token bucket per client, keyed by a daily salt.

A client is known only by a keyed hash (BLAKE2b) of its address under a random salt that
lives in memory and is replaced, with every bucket, when the UTC day changes: nothing
kept can be turned back into an address, and nothing links one day's clients to the
next's. Neither the address nor its hash is logged or stored.

Behind a reverse proxy the address is the one the proxy forwards (uvicorn reads
``X-Forwarded-For`` from a proxy on loopback); each replica counts its own clients.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

# Buckets kept at most; beyond it the full ones (idle clients) are forgotten first.
_MAX_CLIENTS = 100_000


def _today() -> date:
    return datetime.now(UTC).date()


class RateLimit:
    """At most ``per_minute`` questions a minute per client on average, ``burst`` at once."""

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = _today,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.today = today
        self._day = today()
        self._salt = secrets.token_bytes(32)
        self._buckets: dict[bytes, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        """Whether any limit applies (``requests_per_minute = 0`` switches it off)."""
        return self.rate > 0

    def retry_after(self, address: str | None) -> int | None:
        """``None`` when this client may ask now (and counts it), else whole seconds to wait."""
        if not self.enabled:
            return None
        key = self._key(address or "")
        now = self.clock()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > _MAX_CLIENTS:
            self._forget_idle(now)
        return None

    def clients(self) -> int:
        """How many clients are counted today (for tests; never exported)."""
        return len(self._buckets)

    def _key(self, address: str) -> bytes:
        day = self.today()
        if day != self._day:  # a new day: a new salt, and yesterday's counts are gone
            self._day = day
            self._salt = secrets.token_bytes(32)
            self._buckets.clear()
        return hashlib.blake2b(address.encode(), key=self._salt, digest_size=16).digest()

    def _forget_idle(self, now: float) -> None:
        full = [
            key
            for key, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate >= self.burst
        ]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]
