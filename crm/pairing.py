"""Pairing a browser extension: a 6-digit code shown on the desktop, typed into the extension.

The code proves one person controls both the desktop and the extension (threat model: docs/decisions.md,
"Pairing the browser extension"). Pending pairings live in memory only: a restart simply ends them.
Limits keep guessing useless: 10^6 codes, 5 tries per pairing, 3 pairings pending and 10 starts a minute,
each valid for 120 s.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core import events
from core.clock import Clock, iso
from crm.extensions import Extension, ExtensionRegistry, Publish

log = logging.getLogger(__name__)

CODE_LENGTH = 6


@dataclass(frozen=True)
class PairingLimits:
    lifetime_s: float = 120.0
    max_tries: int = 5
    max_pending: int = 3
    starts_per_minute: int = 10


@dataclass
class PendingPairing:
    pairing_id: str
    name: str
    browser: str
    version: str
    origin: str
    code: str
    created_at: datetime
    expires_at: datetime
    expires_mono: float
    tries_left: int

    def public(self) -> dict[str, Any]:
        """What an admin sees (GET /api/pairing/pending): the code included."""
        return {"pairing_id": self.pairing_id, "name": self.name, "browser": self.browser, "origin": self.origin,
                "code": self.code, "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "tries_left": self.tries_left}


class PairingError(Exception):
    """Base of the outcomes a pairing request can be refused with."""


class TooManyPairings(PairingError):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__("too many pairings pending or started in the last minute")
        self.retry_after_s = retry_after_s


class PairingExpired(PairingError):
    """Unknown, expired or denied pairing."""


class PairingEnded(PairingError):
    """The last try was wrong: the pairing is over."""


class WrongCode(PairingError):
    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong code; {tries_left} tries left")
        self.tries_left = tries_left


class OriginMismatch(PairingError):
    """Completed from another origin than the one that started it."""


class Pairings:
    def __init__(self, registry: ExtensionRegistry, clock: Clock, publish: Publish,
                 limits: PairingLimits | None = None) -> None:
        self.registry = registry
        self.clock = clock
        self.publish = publish
        self.limits = limits or PairingLimits()
        self._pending: dict[str, PendingPairing] = {}
        self._starts: deque[float] = deque()  # monotonic times of accepted starts in the last minute

    def start(self, name: str, browser: str, version: str, origin: str) -> PendingPairing:
        """Open a pairing for origin (replacing that origin's pending one) and publish its code."""
        self.expire()
        now_mono = self.clock.monotonic()
        while self._starts and now_mono - self._starts[0] >= 60.0:
            self._starts.popleft()
        if len(self._starts) >= self.limits.starts_per_minute:
            raise TooManyPairings(60.0 - (now_mono - self._starts[0]))
        replaced = self._pending_for_origin(origin)
        if replaced is None and len(self._pending) >= self.limits.max_pending:
            oldest = min(p.expires_mono for p in self._pending.values())
            raise TooManyPairings(oldest - now_mono)
        if replaced is not None:
            self._end(replaced, "replaced")
        now = self.clock.now()
        pairing = PendingPairing(
            pairing_id=secrets.token_urlsafe(16), name=name, browser=browser, version=version, origin=origin,
            code=f"{secrets.randbelow(10 ** CODE_LENGTH):0{CODE_LENGTH}d}", created_at=now,
            expires_at=now + timedelta(seconds=self.limits.lifetime_s),
            expires_mono=now_mono + self.limits.lifetime_s, tries_left=self.limits.max_tries)
        self._pending[pairing.pairing_id] = pairing
        self._starts.append(now_mono)
        log.info("pairing requested by %s (%s, %s)", origin, browser, name)
        self.publish(events.PAIRING_REQUESTED, {
            "pairing_id": pairing.pairing_id, "name": name, "browser": browser, "origin": origin,
            "code": pairing.code, "expires_at": iso(pairing.expires_at)})
        return pairing

    def complete(self, pairing_id: str, code: str, origin: str | None) -> tuple[str, Extension]:
        """Check the code; on success the extension is paired and its token returned (once)."""
        self.expire()
        pairing = self._pending.get(pairing_id)
        if pairing is None:
            raise PairingExpired("unknown or expired pairing")
        # Checked before the code: a code tried from another origin must not use up the real one's tries.
        if origin != pairing.origin:
            raise OriginMismatch("this pairing was started by another origin")
        if not hmac.compare_digest(code.encode(), pairing.code.encode()):
            pairing.tries_left -= 1
            if pairing.tries_left <= 0:
                self._end(pairing, "wrong_code")
                raise PairingEnded("too many wrong codes; start the pairing again")
            raise WrongCode(pairing.tries_left)
        del self._pending[pairing_id]
        token, extension = self.registry.pair(pairing.name, pairing.browser, pairing.origin)
        self.publish(events.PAIRING_COMPLETED, {"pairing_id": pairing_id, "extension": extension.public()})
        return token, extension

    def deny(self, pairing_id: str) -> bool:
        """An admin refuses a pending pairing; False when there is none with that id."""
        self.expire()
        pairing = self._pending.get(pairing_id)
        if pairing is None:
            return False
        self._end(pairing, "denied")
        return True

    def pending(self) -> list[PendingPairing]:
        self.expire()
        return sorted(self._pending.values(), key=lambda p: p.expires_mono)

    def expire(self) -> None:
        """End the pairings whose time is up (called on each use and by the service's housekeeping)."""
        now_mono = self.clock.monotonic()
        for pairing in [p for p in self._pending.values() if p.expires_mono <= now_mono]:
            self._end(pairing, "expired")

    def _pending_for_origin(self, origin: str) -> PendingPairing | None:
        return next((p for p in self._pending.values() if p.origin == origin), None)

    def _end(self, pairing: PendingPairing, reason: str) -> None:
        self._pending.pop(pairing.pairing_id, None)
        log.info("pairing from %s ended: %s", pairing.origin, reason)
        self.publish(events.PAIRING_ENDED, {"pairing_id": pairing.pairing_id, "origin": pairing.origin,
                                            "reason": reason})


def retry_after_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))
