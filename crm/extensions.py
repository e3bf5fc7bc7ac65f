"""Paired browser extensions: who holds a token, which origin it is bound to, revocation and status reports.

Tokens are looked up in memory (SHA-256 -> extension), loaded at start and kept current on pair and
revoke: an extension's request costs one hash and one dict access, no database read. Revoked extensions
stay in the map so their tokens answer "revoked" (the extension then asks the user to pair again).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from core import events
from core.clock import Clock, iso
from storage import extensions as rows
from storage.database import Database

log = logging.getLogger(__name__)

# chrome-extension://<32 letters a-p> (Chromium ids are hex digits mapped 0-f -> a-p), or Firefox's
# per-install moz-extension://<uuid>. Web pages cannot send either: browsers set Origin themselves.
_EXTENSION_ORIGIN = re.compile(
    r"chrome-extension://[a-p]{32}|moz-extension://[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LAST_SEEN_WRITE_INTERVAL_S = 60.0  # last_seen_at is for humans: a write a minute per extension is enough

Publish = Callable[[str, dict[str, Any]], None]


def is_extension_origin(origin: str | None) -> bool:
    return origin is not None and _EXTENSION_ORIGIN.fullmatch(origin) is not None


@dataclass
class Extension:
    id: int
    name: str
    browser: str
    origin: str
    token_hash: str
    paired_at: str
    last_seen_at: str | None = None
    revoked_at: str | None = None
    report: dict[str, Any] | None = None  # the last POST /api/extension/status (memory only)
    stalled_since: str | None = None
    last_seen_written: float | None = field(default=None, repr=False)  # monotonic time of the last write

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "browser": self.browser, "origin": self.origin,
                "paired_at": self.paired_at}

    def listing(self) -> dict[str, Any]:
        return {**self.public(), "last_seen_at": self.last_seen_at, "revoked_at": self.revoked_at,
                "state": "active" if self.active else "revoked", "report": self.report}

    def row(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("report", "stalled_since", "last_seen_written"):
            data.pop(key)
        return data


class ExtensionRegistry:
    def __init__(self, db: Database, clock: Clock, publish: Publish) -> None:
        self.db = db
        self.clock = clock
        self.publish = publish
        self._by_hash: dict[str, Extension] = {}
        self._by_id: dict[int, Extension] = {}
        self.active_origins: set[str] = set()

    def load(self) -> None:
        """(Re)read every extension from the database."""
        self._by_hash.clear()
        self._by_id.clear()
        for row in rows.all_extensions(self.db):
            self._remember(Extension(**row))
        self._refresh_origins()

    def _remember(self, extension: Extension) -> None:
        self._by_hash[extension.token_hash] = extension
        self._by_id[extension.id] = extension

    def _refresh_origins(self) -> None:
        self.active_origins = {e.origin for e in self._by_id.values() if e.active}

    # -- who is calling -----------------------------------------------------------------------------------

    def for_token(self, token: str) -> Extension | None:
        """The extension holding this token, revoked or not; None for any other token."""
        return self._by_hash.get(rows.hash_token(token))

    def is_paired_origin(self, origin: str) -> bool:
        return origin in self.active_origins

    def is_revoked_token(self, token: str, origin: str) -> bool:
        extension = self.for_token(token)
        return extension is not None and not extension.active and extension.origin == origin

    def seen(self, extension: Extension) -> None:
        """Note a request from this extension; written to the database at most once a minute."""
        now_mono = self.clock.monotonic()
        extension.last_seen_at = iso(self.clock.now())
        if extension.last_seen_written is not None and now_mono - extension.last_seen_written < \
                LAST_SEEN_WRITE_INTERVAL_S:
            return
        extension.last_seen_written = now_mono
        with self.db.transaction():
            rows.record_last_seen(self.db, extension.id, extension.last_seen_at)

    # -- pairing and revocation ---------------------------------------------------------------------------

    def pair(self, name: str, browser: str, origin: str) -> tuple[str, Extension]:
        """A new token bound to origin; an earlier active extension of that origin is revoked (one per origin).

        Returns the token (given to the extension once; only its hash is kept) and the extension.
        """
        token = secrets.token_urlsafe(32)  # 256 bits
        now = iso(self.clock.now())
        token_hash = rows.hash_token(token)
        with self.db.transaction():
            replaced = rows.active_ids_for_origin(self.db, origin)
            for extension_id in replaced:
                rows.revoke_extension(self.db, extension_id, now)
            new_id = rows.insert_extension(self.db, name, browser, origin, token_hash, now)
        for extension_id in replaced:
            self._forget_revoked(extension_id, now, "replaced")
        extension = Extension(new_id, name, browser, origin, token_hash, paired_at=now)
        self._remember(extension)
        self._refresh_origins()
        log.info("browser extension %d paired (%s, %s)", new_id, browser, origin)
        return token, extension

    def revoke(self, extension_id: int) -> Extension | None:
        """Revoke an active extension; None when there is no such active extension."""
        extension = self._by_id.get(extension_id)
        if extension is None or not extension.active:
            return None
        now = iso(self.clock.now())
        with self.db.transaction():
            rows.revoke_extension(self.db, extension_id, now)
        self._forget_revoked(extension_id, now, "revoked")
        self._refresh_origins()
        log.info("browser extension %d revoked", extension_id)
        return extension

    def _forget_revoked(self, extension_id: int, now: str, reason: str) -> None:
        extension = self._by_id.get(extension_id)
        if extension is not None:
            extension.revoked_at = now
            extension.stalled_since = None
        # Published even for an id unknown in memory: it still closes that extension's WebSocket sessions.
        self.publish(events.EXTENSION_REVOKED, {"id": extension_id, "reason": reason})

    def get(self, extension_id: int) -> Extension | None:
        return self._by_id.get(extension_id)

    def listing(self) -> list[dict[str, Any]]:
        return [e.listing() for e in sorted(self._by_id.values(), key=lambda e: e.id)]

    def after_restore(self) -> None:
        """A restored backup predates the memory: keep later revocations and later pairings.

        Without this, restoring an older backup would bring a revoked token back to life, and would silently
        unpair an extension paired since the backup.
        """
        known = {e.token_hash: e for e in self._by_id.values()}
        now = iso(self.clock.now())
        self.load()
        with self.db.transaction():
            for token_hash, before in known.items():
                restored = self._by_hash.get(token_hash)
                if restored is None:
                    if before.id in self._by_id:  # the id was reused by the backup: keep the backup's row
                        continue
                    rows.restore_extension(self.db, before.row(), now)
                elif before.revoked_at and restored.active:
                    rows.revoke_extension(self.db, restored.id, before.revoked_at)
        reports = {e.id: (e.report, e.stalled_since) for e in known.values()}
        self.load()
        for extension_id, (report, stalled_since) in reports.items():
            extension = self._by_id.get(extension_id)
            if extension is not None and extension.active:
                extension.report, extension.stalled_since = report, stalled_since

    # -- status reports -----------------------------------------------------------------------------------

    def report_status(self, extension: Extension, report: dict[str, Any]) -> None:
        """Keep the report; publish capture.stalled once on the way into stalled, capture.resumed on ok."""
        extension.report = {**report, "received_at": iso(self.clock.now())}
        state = report.get("state")
        if state == "stalled" and extension.stalled_since is None:
            extension.stalled_since = extension.report["received_at"]
            log.warning("capture stalled in browser extension %d: %s", extension.id, report.get("reason") or "-")
            self.publish(events.CAPTURE_STALLED, {"extension_id": extension.id, "name": extension.name,
                                                  "reason": report.get("reason") or "",
                                                  "selectors_version": report.get("selectors_version")})
        elif state == "ok" and extension.stalled_since is not None:
            extension.stalled_since = None
            log.info("capture resumed in browser extension %d", extension.id)
            self.publish(events.CAPTURE_RESUMED, {"extension_id": extension.id, "name": extension.name,
                                                  "selectors_version": report.get("selectors_version")})

    def health(self) -> dict[str, Any]:
        active = [e for e in self._by_id.values() if e.active]
        stalled = [{"id": e.id, "name": e.name, "since": e.stalled_since,
                    "reason": (e.report or {}).get("reason") or "",
                    "selectors_version": (e.report or {}).get("selectors_version")}
                   for e in active if e.stalled_since is not None]
        return {"paired": len(active), "stalled": stalled, "degraded": bool(stalled)}
