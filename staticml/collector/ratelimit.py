"""A per-client token bucket, in memory only.

Clients are told apart by their address, but the address itself is never kept: the key is a
keyed hash (BLAKE2b with a random per-process key), held only in memory, never stored or
logged, and forgotten once its bucket is full again. An IPv6 client is keyed by its /64 (one
host usually holds a whole /64, so its other addresses are the same client); an IPv4-mapped
IPv6 address by its IPv4 address.

At most `max_clients` buckets are held: past that, the least recently used one is dropped
(its client starts again with a full bucket), never all of them at once.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_PER_MINUTE = 120
MAX_CLIENTS = 100_000
PRUNE_EVERY = 1000  # requests between two sweeps of the buckets that are full again
IPV6_PREFIX = 64


def client_key(address: str) -> str:
    """The part of `address` that names one client: an IPv6 address's /64, else the address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


class RateLimiter:
    """`per_minute` requests a minute per client, with bursts up to `burst` (default: the same)."""

    def __init__(
        self,
        per_minute: int = DEFAULT_PER_MINUTE,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        if max_clients < 1:
            raise ValueError("max_clients must be at least 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst or per_minute)
        self.max_clients = max_clients
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        # key -> (tokens, at), least recently used first
        self._buckets: OrderedDict[bytes, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._requests = 0

    def _key(self, client: str) -> bytes:
        name = client_key(client).encode()
        return hashlib.blake2b(name, key=self._secret, digest_size=16).digest()

    def acquire(self, client: str) -> int | None:
        """None if `client` may go on, else the seconds after which it may retry."""
        now = self._clock()
        key = self._key(client)
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            allowed = tokens >= 1
            self._buckets[key] = (tokens - 1 if allowed else tokens, now)
            self._prune(now)
            if allowed:
                return None
            return max(1, math.ceil((1 - tokens) / self.rate))

    def _prune(self, now: float) -> None:
        self._requests += 1
        if self._requests % PRUNE_EVERY == 0:
            self._buckets = OrderedDict(
                (key, (tokens, at))
                for key, (tokens, at) in self._buckets.items()
                if tokens + (now - at) * self.rate < self.burst
            )
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
