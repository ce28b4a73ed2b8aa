"""A per-client token bucket, in memory only.

Clients are told apart by their address, but the address itself is never kept: the key is a
keyed hash (BLAKE2b with a random per-process key), held only in memory, never stored or
logged, and forgotten once its bucket is full again.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections.abc import Callable

DEFAULT_PER_MINUTE = 120
MAX_CLIENTS = 100_000
PRUNE_EVERY = 1000  # requests between two sweeps of the buckets that are full again


class RateLimiter:
    """`per_minute` requests a minute per client, with bursts up to `burst` (default: the same)."""

    def __init__(
        self,
        per_minute: int = DEFAULT_PER_MINUTE,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst or per_minute)
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._buckets: dict[bytes, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()
        self._requests = 0

    def _key(self, client: str) -> bytes:
        return hashlib.blake2b(client.encode(), key=self._secret, digest_size=16).digest()

    def acquire(self, client: str) -> int | None:
        """None if `client` may go on, else the seconds after which it may retry."""
        now = self._clock()
        key = self._key(client)
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                self._forget_full(now)
                return None
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))

    def _forget_full(self, now: float) -> None:
        self._requests += 1
        if self._requests % PRUNE_EVERY and len(self._buckets) < MAX_CLIENTS:
            return
        self._buckets = {
            key: (tokens, at)
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate < self.burst
        }
        if len(self._buckets) >= MAX_CLIENTS:  # that many active clients: start afresh
            self._buckets.clear()
