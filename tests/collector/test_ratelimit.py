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


def test_an_ipv6_client_is_its_slash_64():
    limiter = RateLimiter(per_minute=1, clock=Clock())
    assert limiter.acquire("2001:db8:1:2::1") is None
    assert limiter.acquire("2001:db8:1:2:ffff:ffff:ffff:ffff") is not None  # the same /64
    assert limiter.acquire("2001:db8:1:3::1") is None  # the next /64


def test_an_ipv4_mapped_address_is_the_ipv4_client():
    limiter = RateLimiter(per_minute=1, clock=Clock())
    assert limiter.acquire("192.0.2.7") is None
    assert limiter.acquire("::ffff:192.0.2.7") is not None
    assert limiter.acquire("192.0.2.8") is None


def test_a_full_table_drops_the_least_recently_used_client_only():
    limiter = RateLimiter(per_minute=1, clock=Clock(), max_clients=3)
    for client in ("a", "b", "c"):
        assert limiter.acquire(client) is None
    assert limiter.acquire("a") is not None  # a is now the most recently used
    assert limiter.acquire("d") is None  # the table is full: b goes, not everyone
    assert len(limiter._buckets) == 3
    assert limiter.acquire("a") is not None and limiter.acquire("c") is not None
    assert limiter.acquire("b") is None  # forgotten: a full bucket again


def test_a_flood_of_new_clients_does_not_refill_an_exhausted_one():
    limiter = RateLimiter(per_minute=1, clock=Clock(), max_clients=100)
    assert limiter.acquire("attacker") is None
    for i in range(300):
        limiter.acquire(f"new {i}")
        assert limiter.acquire("attacker") is not None
