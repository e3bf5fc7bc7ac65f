"""Pure parts with an injected clock: rate limits, login lockout, tokens, the event bus, phones, origins."""

from __future__ import annotations

import pytest

from api.security import OriginPolicy
from core.clock import FakeClock
from core.events import EventBus
from crm.access import InvalidToken, LoginGuard, TokenService
from crm.phones import InvalidPhone, to_e164
from crm.ratelimit import RateLimiter


def test_token_bucket_refills_with_time():
    clock = FakeClock()
    limiter = RateLimiter(clock, rate_per_s=2, burst=3)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    wait = limiter.take("a")
    assert wait == pytest.approx(0.5)
    assert limiter.take("b") == 0  # keys are independent
    clock.advance(0.5)
    assert limiter.take("a") == 0
    assert limiter.take("a") > 0


def test_login_lockout_doubles_and_resets_on_success():
    clock = FakeClock()
    guard = LoginGuard(clock, max_failures=3, lockout_s=10)
    assert [guard.record_failure("Ana") for _ in range(2)] == [0, 0]
    assert guard.record_failure("ana") == 10  # case-insensitive
    assert guard.retry_after("ANA") == 10
    clock.advance(10)
    assert guard.retry_after("ana") == 0
    assert guard.record_failure("ana") == 20
    clock.advance(20)
    guard.record_success("ana")
    assert guard.record_failure("ana") == 0


def test_tokens_expire_with_the_clock_also_when_cached():
    clock = FakeClock()
    import time
    from datetime import datetime, timezone

    clock._now = datetime.fromtimestamp(time.time(), tz=timezone.utc)
    tokens = TokenService("ab" * 32, expiry_s=60, local_token="local-token-value", clock=clock)
    token = tokens.issue("ana", "agent")
    principal = tokens.authenticate(token)
    assert principal.subject == "ana" and principal.role == "agent" and not principal.is_admin
    assert tokens.authenticate(token) == principal  # from the cache
    clock.advance(61)
    with pytest.raises(InvalidToken):
        tokens.authenticate(token)
    assert tokens.authenticate("local-token-value").is_admin
    with pytest.raises(InvalidToken):
        tokens.authenticate("")
    with pytest.raises(ValueError):
        TokenService("short", 60, "x", clock)


def test_event_bus_replays_after_since_and_reports_gaps():
    bus = EventBus(buffer_size=3, clock_ms=lambda: 1000)
    received = []
    for i in range(5):
        bus.publish("message.captured", {"n": i}, "t")
    assert bus.last_id == 1004 and bus.oldest_id == 1002
    backlog, lost = bus.subscribe(received.append, since=1003)
    assert [e["id"] for e in backlog] == [1004] and not lost
    backlog, lost = bus.subscribe(lambda e: None, since=1000)
    assert [e["id"] for e in backlog] == [1002, 1003, 1004] and lost
    bus.publish("analysis.completed", {}, "t")
    assert [e["id"] for e in received] == [1005]
    bus.unsubscribe(received.append)
    bus.publish("analysis.completed", {}, "t")
    assert len(received) == 1


@pytest.mark.parametrize("raw, region, expected", [
    ("(11) 99999-0000", "BR", "+5511999990000"),
    ("+55 11 99999 0000", "BR", "+5511999990000"),
    ("5511999990000@c.us", "BR", "+5511999990000"),
    ("5511999990000:12@s.whatsapp.net", "BR", "+5511999990000"),
    ("11 99999-0000", "BR", "+5511999990000"),
    ("+1 (415) 555-2671", "BR", "+14155552671"),
    ("(415) 555-2671", "US", "+14155552671"),
    ("612 34 56 78", "ES", "+34612345678"),
])
def test_phone_formats_normalise_to_e164(raw, region, expected):
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "abc", "12", "123456789012345678901", "group-123@g.us", "x@example.com"])
def test_invalid_phones_are_refused(raw):
    with pytest.raises(InvalidPhone):
        to_e164(raw, "BR")


def test_origin_policy():
    policy = OriginPolicy(["chrome-extension://abc"], extra_hosts=["agent.local"])
    policy.port = 8080
    assert policy.host_allowed("localhost:8080") and policy.host_allowed("[::1]:8080")
    assert policy.host_allowed("agent.local:8080")
    assert not policy.host_allowed("localhost") and not policy.host_allowed("localhost:80")
    assert not policy.host_allowed("evil.com:8080") and not policy.host_allowed("[::1")
    assert policy.origin_allowed("chrome-extension://abc") and policy.origin_allowed("CHROME-EXTENSION://ABC/")
    assert policy.origin_allowed("http://127.0.0.1:8080")
    assert not policy.origin_allowed("chrome-extension://abcd") and not policy.origin_allowed("null")
