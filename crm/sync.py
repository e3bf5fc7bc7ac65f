"""The agent's sync with a team hub: push changed rows in batches, pull shared customer profiles and the team's
knowledge base.

One round: push every batch since the hub's last acknowledgement (the cursor moves only on a 2xx that names
the acknowledged change_seq), then pull profile changes since the pull cursor and merge them (last writer
wins per field), then the knowledge entries and deletions since their own cursor (storage/knowledge.py).
Failed requests are retried with exponential backoff and full jitter (tenacity); a round that still fails is
recorded as the last error and tried again at the next interval. The service runs rounds on a greenlet (requests
is gevent-patched there); `agent.py sync now` runs one in its own process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from core.clock import Clock, iso
from core.config import Config
from core.paths import DataDir
from core.secrets_store import read_secret
from storage import knowledge as knowledge_rows
from storage import sync_state
from storage.database import Database

if TYPE_CHECKING:
    import requests
    from tenacity import RetryCallState

log = logging.getLogger(__name__)

PULL_PAGE = 500
SYNC_VERSION = 1


class SyncError(Exception):
    """A failure worth retrying: network, TLS handshake, timeout, 5xx, 429, a malformed answer."""


class SyncRefused(SyncError):
    """The hub refused the request (401/403/4xx): retrying the same request will not help."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SyncSettings:
    hub_url: str
    token: str | None
    interval_s: float
    batch_size: int
    ca_file: str
    timeout_s: float
    attempts: int
    backoff_initial_s: float
    backoff_max_s: float

    @property
    def configured(self) -> bool:
        return bool(self.hub_url and self.token)

    @classmethod
    def from_config(cls, config: Config, data_dir: DataDir) -> SyncSettings:
        return cls(hub_url=config["sync.hub_url"].rstrip("/"), token=read_secret(data_dir.hub_token_file),
                   interval_s=config["sync.interval_s"], batch_size=config["sync.batch_size"],
                   ca_file=config["sync.ca_file"], timeout_s=config["sync.timeout_s"],
                   attempts=config["sync.retry_attempts"], backoff_initial_s=config["sync.backoff_initial_s"],
                   backoff_max_s=config["sync.backoff_max_s"])


class HubClient:
    """HTTPS to the hub with certificate verification: system CAs, or sync.ca_file for a private CA."""

    def __init__(self, settings: SyncSettings, session: requests.Session | None = None) -> None:
        # Imported here, not at the top: a service with sync off (most) does not carry requests (~5 MB).
        import requests

        self.settings = settings
        self.session = session or requests.Session()
        # Passed with every request: a Session's own verify loses to $REQUESTS_CA_BUNDLE in requests.
        self.verify: str | bool = settings.ca_file or True
        self.use_token(settings.token)

    def use_token(self, token: str | None) -> None:
        self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The hub's answer when it is a 2xx; SyncError (worth retrying) or SyncRefused otherwise."""
        import requests

        try:
            response = self.session.request(method, self.settings.hub_url + path, timeout=self.settings.timeout_s,
                                            verify=self.verify, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise SyncError(f"TLS verification of the hub failed: {_short(exc)}") from None
        except requests.RequestException as exc:
            raise SyncError(f"hub unreachable: {type(exc).__name__}: {_short(exc)}") from None
        if response.status_code in (408, 429) or response.status_code >= 500:
            response.close()
            raise SyncError(f"hub answered {response.status_code}")
        if response.status_code >= 400:
            raise SyncRefused(f"hub refused the request: {response.status_code} {_error_message(response)}",
                              response.status_code)
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """request() for an answer that is a JSON object."""
        return self._call(method, path, **kwargs)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise SyncError("hub answered with something that is not JSON") from None
        if not isinstance(body, dict):
            raise SyncError("hub answered with an unexpected body")
        return body

    def push(self, rows: list[dict[str, Any]], upto: int) -> int:
        body = self._call("POST", "/api/sync/push", json={"version": SYNC_VERSION, "upto": upto, "rows": rows})
        acknowledged = body.get("acknowledged_seq")
        if not isinstance(acknowledged, int):
            raise SyncError("hub answer names no acknowledged_seq")
        return acknowledged

    def pull_knowledge(self, after_seq: int, after_uid: str, limit: int) -> dict[str, Any]:
        body = self._call("GET", "/api/sync/knowledge",
                          params={"after_seq": after_seq, "after_uid": after_uid, "limit": limit})
        if not isinstance(body.get("items"), list):
            raise SyncError("hub answer has no items")
        return body

    def pull(self, after_seq: int, after_id: int, limit: int) -> dict[str, Any]:
        body = self._call("GET", "/api/sync/profiles",
                          params={"after_seq": after_seq, "after_id": after_id, "limit": limit})
        if not isinstance(body.get("items"), list):
            raise SyncError("hub answer has no items")
        return body


def _short(exc: Exception) -> str:
    return str(exc)[:200]


def _error_message(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["message"])[:200]
    except (ValueError, KeyError, TypeError):
        return response.reason or ""


class SyncAgent:
    """Runs sync rounds for one agent database and reports their status (health, WS, tray, CLI)."""

    def __init__(self, db: Database, settings: SyncSettings, clock: Clock,
                 publish: Callable[[dict[str, Any]], None] | None = None, client: HubClient | None = None,
                 sleep: Callable[[float], None] | None = None,
                 read_token: Callable[[], str | None] | None = None,
                 knowledge_pulled: Callable[[dict[str, int]], None] | None = None) -> None:
        """read_token: the hub token stored now (`agent.py sync set-token`), read before each round.
        knowledge_pulled(counts): after a pull changed knowledge entries (the service publishes knowledge.changed)."""
        self.db = db
        self.read_token = read_token
        self.settings = settings
        self.clock = clock
        self.publish = publish or (lambda status: None)
        self.knowledge_pulled = knowledge_pulled or (lambda counts: None)
        self.client = client or (HubClient(settings) if settings.configured else None)
        self.sleep = sleep
        self.state = "idle" if settings.configured else "disabled"
        self.rows_pushed = 0
        self.batch_size = settings.batch_size  # halved while the hub answers 413 (a batch of very big rows)
        self.on_round_requested: Callable[[], None] = lambda: None  # set by whoever runs the rounds

    def request_round(self) -> None:
        """Ask the running sync loop for a round now (POST /api/sync/now)."""
        self.on_round_requested()

    # -- one round -------------------------------------------------------------------------------

    def sync_once(self) -> dict[str, Any]:
        """Push everything pending, pull every profile change; retried with backoff. Raises SyncError."""
        if self.client is None:
            raise SyncRefused("sync is not configured: set sync.hub_url and the hub token (agent.py sync set-token)")
        self._follow_stored_token()
        self.state = "syncing"
        sync_state.record_attempt(self.db, self._now())
        try:
            pushed = self._retrying(self.push_pending)
            pulled = self._retrying(self.pull_profiles)
            pulled_knowledge = self._retrying(self.pull_knowledge)
        except SyncError as exc:
            self.state = "error"
            sync_state.record_error(self.db, str(exc), self._now())
            self.publish(self.status())
            raise
        self.state = "idle"
        sync_state.record_success(self.db, self._now())
        status = self.status()
        self.publish(status)
        return {"pushed_rows": pushed, "pulled_profiles": pulled, "pulled_knowledge": pulled_knowledge, **status}

    def _follow_stored_token(self) -> None:
        """After the hub's admin rotates this agent's token, the new one stored with `agent.py sync set-token`
        counts from the next round, without restarting the service (the cursor and rows stay as they are)."""
        token = self.read_token() if self.read_token else None
        if token and token != self.settings.token:
            self.settings = replace(self.settings, token=token)
            self.client.use_token(token)
            log.info("sync: using the hub token stored since the last round")

    def push_pending(self) -> int:
        """Push batches until nothing is pending; each acknowledged batch moves the cursor. Returns rows sent."""
        sent = 0
        while True:
            cursor = int(sync_state.read_state(self.db)["push_cursor"])
            batch = sync_state.next_batch(self.db, cursor, self.batch_size)
            if batch is None:
                return sent
            rows, upto = batch
            try:
                acknowledged = self.client.push(rows, upto)
            except SyncRefused as exc:
                if exc.status != 413 or self.batch_size == 1:
                    raise
                self.batch_size = max(1, self.batch_size // 2)
                continue
            if acknowledged != upto:
                raise SyncError(f"hub acknowledged change {acknowledged}, expected {upto}")
            sync_state.advance_push_cursor(self.db, upto)
            sent += len(rows)
            self.rows_pushed += len(rows)

    def pull_profiles(self) -> int:
        """Pull shared profile changes page by page; each page is merged with its cursor in one transaction."""
        changed = 0
        while True:
            state = sync_state.read_state(self.db)
            page = self.client.pull(int(state["pull_seq"]), int(state["pull_id"]), PULL_PAGE)
            items = [item for item in page["items"] if _valid_profile(item)]
            cursor = (int(page.get("next_seq", state["pull_seq"])), int(page.get("next_id", state["pull_id"])))
            changed += sync_state.apply_hub_profiles(self.db, items, cursor, self._now())
            if not page.get("more") or not page["items"]:
                return changed

    def pull_knowledge(self) -> int:
        """Pull the team's knowledge changes page by page; each page is merged with its cursor in one
        transaction. Returns how many local entries were created, updated or deleted."""
        changed = 0
        while True:
            state = sync_state.read_state(self.db)
            after = (int(state["knowledge_pull_seq"]), str(state["knowledge_pull_uid"]))
            page = self.client.pull_knowledge(after[0], after[1], PULL_PAGE)
            items = [item for item in page["items"] if _valid_knowledge_item(item)]
            cursor = (int(page.get("next_seq", after[0])), str(page.get("next_uid", after[1])))
            counts = knowledge_rows.apply_hub_entries(self.db, items, cursor, self._now())
            if any(counts.values()):
                changed += sum(counts.values())
                self.knowledge_pulled(counts)
            if not page.get("more") or not page["items"]:
                return changed

    def _retrying(self, work: Callable[[], int]) -> int:
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

        settings = self.settings
        retrying = Retrying(
            retry=retry_if_exception(_worth_retrying),
            wait=wait_random_exponential(multiplier=settings.backoff_initial_s, max=settings.backoff_max_s),
            stop=stop_after_attempt(settings.attempts), before_sleep=self._note_retry, reraise=True,
            **({"sleep": self.sleep} if self.sleep else {}))
        return retrying(work)

    def _note_retry(self, retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        log.info("sync attempt %d failed (%s); retrying", retry_state.attempt_number, error)
        sync_state.record_error(self.db, str(error), self._now())

    # -- status ----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        state = sync_state.read_state(self.db)
        cursor = int(state.get("push_cursor") or 0)
        return {
            "role": "agent",
            "enabled": self.settings.configured,
            "state": self.state,
            "hub_url": self.settings.hub_url or None,
            "last_success_at": state.get("last_success_at"),
            "last_attempt_at": state.get("last_attempt_at"),
            "last_error": state.get("last_error"),
            "last_error_at": state.get("last_error_at"),
            "pending_rows": sync_state.pending_rows(self.db, cursor),
            "cursor": cursor,
            "pull_cursor": {"seq": int(state.get("pull_seq") or 0), "id": int(state.get("pull_id") or 0)},
        }

    def _now(self) -> str:
        return iso(self.clock.now())


def _worth_retrying(exc: BaseException) -> bool:
    return isinstance(exc, SyncError) and not isinstance(exc, SyncRefused)


def _valid_knowledge_item(item: Any) -> bool:
    if not isinstance(item, dict) or not isinstance(item.get("uid"), str) or not item["uid"]:
        return False
    if item.get("deleted") is True:
        return True
    values, stamps = item.get("values"), item.get("field_hlc")
    return (isinstance(values, dict) and isinstance(stamps, dict) and all(isinstance(v, str) for v in stamps.values())
            and isinstance(values.get("title"), str) and isinstance(values.get("content"), str)
            and isinstance(values.get("tags", []), list)
            and all(values.get(k) is None or isinstance(values[k], str) for k in ("language", "shortcut")))


def _valid_profile(item: Any) -> bool:
    return (isinstance(item, dict) and isinstance(item.get("phone"), str) and isinstance(item.get("values"), dict)
            and isinstance(item.get("field_hlc"), dict)
            and all(isinstance(v, str) for v in item["field_hlc"].values()))
