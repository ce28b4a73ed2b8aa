"""The per-client token bucket: bursts, refill, separate clients, and nothing kept in the clear."""

from __future__ import annotations

from staticml.collector.ratelimit import PRUNE_EVERY, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_request_per_interval():
    clock = Clock()
    limiter = RateLimiter(per_minute=6, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [None, None, None]
    assert limiter.acquire("a") == 10  # 6 a minute: one token every 10 s
    clock.now += 5
    assert limiter.acquire("a") == 5
    clock.now += 5
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") == 10


def test_clients_have_their_own_buckets():
    limiter = RateLimiter(per_minute=1, clock=Clock())
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is not None
    assert limiter.acquire("b") is None


def test_tokens_never_exceed_the_burst():
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
    clock.now += 3600
    assert [limiter.acquire("a") is None for _ in range(3)] == [True, True, False]


def test_addresses_are_kept_only_as_keyed_hashes():
    limiter = RateLimiter(clock=Clock())
    limiter.acquire("203.0.113.9")
    other = RateLimiter(clock=Clock())
    other.acquire("203.0.113.9")
    [key] = limiter._buckets
    assert b"203.0.113.9" not in key and "203.0.113.9" not in repr(limiter.__dict__)
    assert list(other._buckets) != [key]  # a random key per process: not linkable


def test_idle_clients_are_forgotten():
    clock = Clock()
    limiter = RateLimiter(per_minute=60, clock=clock)
    limiter.acquire("idle")
    clock.now += 60  # its bucket is full again
    for i in range(PRUNE_EVERY):
        limiter.acquire(f"client {i}")
    assert limiter._key("idle") not in limiter._buckets
