"""The fair-use limit: per client, refilled over time, keyed by a salt that changes daily."""

from datetime import date

from ketabot.web.limits import RateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.day = date(2026, 11, 22)

    def __call__(self) -> float:
        return self.now


def limited(per_minute: int = 60, burst: int = 3) -> tuple[RateLimit, Clock]:
    clock = Clock()
    return RateLimit(per_minute, burst, clock=clock, today=lambda: clock.day), clock


def test_a_client_may_ask_a_burst_then_waits_for_the_rate():
    limit, clock = limited(per_minute=60, burst=3)
    assert [limit.retry_after("198.51.100.7") for _ in range(3)] == [None, None, None]
    assert limit.retry_after("198.51.100.7") == 1  # one a second at 60 a minute
    clock.now += 1.0
    assert limit.retry_after("198.51.100.7") is None


def test_the_wait_is_as_long_as_the_rate_says():
    limit, _ = limited(per_minute=6, burst=1)
    assert limit.retry_after("198.51.100.7") is None
    assert limit.retry_after("198.51.100.7") == 10


def test_clients_are_counted_apart():
    limit, _ = limited(burst=1)
    assert limit.retry_after("198.51.100.7") is None
    assert limit.retry_after("198.51.100.7") is not None
    assert limit.retry_after("203.0.113.9") is None


def test_no_address_is_kept_and_a_new_day_forgets_every_client():
    limit, clock = limited(burst=1)
    limit.retry_after("198.51.100.7")
    kept = b"".join(limit._buckets)
    assert b"198.51.100.7" not in kept and len(next(iter(limit._buckets))) == 16
    assert limit.retry_after("198.51.100.7") is not None
    clock.day = date(2026, 11, 23)
    assert limit.retry_after("198.51.100.7") is None  # new salt, fresh bucket
    assert limit.clients() == 1


def test_zero_per_minute_means_no_limit():
    limit, _ = limited(per_minute=0, burst=1)
    assert not limit.enabled
    assert all(limit.retry_after("198.51.100.7") is None for _ in range(100))


def test_idle_clients_are_forgotten_when_there_are_too_many(monkeypatch):
    import ketabot.web.limits as limits

    monkeypatch.setattr(limits, "_MAX_CLIENTS", 10)
    limit, clock = limited(per_minute=60, burst=2)
    for n in range(11):
        limit.retry_after(f"10.0.0.{n}")
    clock.now += 60  # every bucket refilled
    limit.retry_after("10.0.1.1")
    assert limit.clients() <= 11
