"""Off-site copies of this agent's backups on its team hub, and getting them back on a new machine.

Upload: each verified backup (not the -pre-restore safety copies) newer than the last one the hub has is sent,
encrypted on this machine before it leaves: an encrypted backup file as it is, a plain one as an encrypted
copy made for the upload (AES-256-GCM, storage/backup_crypto.py, with backup.key, created when missing). The
key never leaves the machine; the hub only sees its id. The file goes in parts (storage/hub_backups.py), each
request retried with exponential backoff and full jitter (tenacity), so a dropped connection repeats one part.
A marker file `<backup>.offsite` records what the hub has (a file beside the backup: restoring the database
must not make the agent forget or repeat uploads). The service runs uploads on their own greenlet
(runtime/jobs.py), woken by each completed backup, so captures never wait for them.

Download (`agent.py backup restore --from-hub`): the newest backup of this agent, checked against the SHA-256
the hub lists and then chunk by chunk against its GCM tags before anything is restored from it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.clock import Clock, iso
from core.paths import DataDir
from crm.sync import HubClient, SyncError, SyncRefused, SyncSettings
from storage.backup_crypto import (
    MAGIC,
    BackupCryptoError,
    encrypt_file,
    key_id,
    load_key,
    load_or_create_key,
    verify_file,
)
from storage.backups import BackupInfo, list_backups, offsite_marker

if TYPE_CHECKING:
    from tenacity import RetryCallState

log = logging.getLogger(__name__)

UPLOAD_COPY_NAME = "offsite-upload.tmp"  # the encrypted copy of a plain backup while it uploads
DOWNLOAD_SUFFIX = ".download"
READ_BLOCK = 1024 * 1024


class OffsiteError(RuntimeError):
    """Restoring from the hub cannot go on (no backup there, no or another key, a damaged download)."""


class OffsiteBackups:
    """Uploads this agent's verified backups to its hub and reports how that goes (GET /api/system/backups)."""

    def __init__(self, data_dir: DataDir, settings: SyncSettings, enabled: bool, clock: Clock,
                 client: HubClient | None = None, read_token: Callable[[], str | None] | None = None,
                 off_loop: Callable[[Callable[[], Any]], Any] | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        """enabled: sync.offsite_backups (it also needs a configured hub). off_loop: where file work runs (the
        service's thread pool); read_token: the hub token stored now, read before each round."""
        self.data_dir = data_dir
        self.settings = settings
        self.enabled = enabled and settings.configured
        self.clock = clock
        self.client = client or (HubClient(settings) if self.enabled else None)
        self.read_token = read_token
        self.off_loop: Callable[[Callable[[], Any]], Any] = off_loop or (lambda work: work())
        self.sleep = sleep
        self.state = "idle" if self.enabled else "disabled"
        self.last_uploaded: str | None = None
        self.last_upload_at: str | None = None
        self.last_error: str | None = None
        self.last_error_at: str | None = None

    # -- upload ---------------------------------------------------------------------------------------

    def pending(self) -> list[BackupInfo]:
        """The verified backups newer than the newest one on the hub, oldest first (with none on the hub yet,
        the newest alone: older ones are superseded by it)."""
        backups = [b for b in list_backups(self.data_dir.backups) if b.status == "verified" and not b.pre_restore]
        waiting = []
        for backup in backups:  # newest first
            if offsite_marker(backup.path).exists():
                break
            waiting.append(backup)
        uploaded_any = any(offsite_marker(b.path).exists() for b in backups)
        return list(reversed(waiting if uploaded_any else waiting[:1]))

    def upload_pending(self) -> list[str]:
        """Upload every pending backup; returns the names sent. Raises SyncError when one still fails after
        the retries (recorded for the status; the next round tries again)."""
        if self.client is None:
            return []
        self._follow_stored_token()
        sent = []
        for backup in self.pending():
            self.state = "uploading"
            try:
                name = self.upload(backup)
            except (SyncError, BackupCryptoError, OSError) as exc:
                self.state = "error"
                self.last_error, self.last_error_at = str(exc), self._now()
                raise SyncError(f"off-site upload of {backup.name} failed: {exc}") from exc
            sent.append(name)
            self.state, self.last_error = "idle", None
            self.last_uploaded, self.last_upload_at = name, self._now()
        return sent

    def upload(self, backup: BackupInfo) -> str:
        """Send one backup (encrypted first when it is plain); returns its name on the hub."""
        copy = self.data_dir.backups / UPLOAD_COPY_NAME
        try:
            if backup.encrypted:
                blob, name = backup.path, backup.name
            else:
                key = self._key()
                self.off_loop(lambda: encrypt_file(backup.path, copy, key))
                blob, name = copy, backup.name + ".enc"  # crm_agent-<time>.db.enc, as if written encrypted
            size, digest, file_key_id = self.off_loop(lambda: describe(blob))
            start = {"name": name, "size_bytes": size, "sha256": digest, "key_id": file_key_id,
                     "created_at": backup.created_at}
            state = self._retrying(lambda: self.client.call("POST", "/api/sync/backups", json=start))
            if not state.get("complete"):
                self._send_parts(blob, name, int(state["part_bytes"]), int(state["parts"]),
                                 set(state.get("received") or ()))
                self._retrying(lambda: self.client.call("POST", f"/api/sync/backups/{name}/complete", data=b""))
        finally:
            copy.unlink(missing_ok=True)
        offsite_marker(backup.path).write_text(f"{name} {digest}\n", encoding="utf-8")
        log.info("off-site backup %s uploaded to the hub (%d bytes, key id %s)", name, size, file_key_id)
        return name

    def _key(self) -> bytes:
        path = self.data_dir.backup_key_file
        created = not path.exists()
        key = load_or_create_key(path)
        if created:
            # Without a copy of it, a lost machine's off-site backups cannot be read by anyone, the user included.
            log.warning("created the backup key %s (id %s) to encrypt off-site backups; keep a copy somewhere safe: "
                        "agent.py backup export-key", path, key_id(key).hex())
        return key

    def _send_parts(self, blob: Path, name: str, part_bytes: int, parts: int, received: set[int]) -> None:
        for part in range(1, parts + 1):
            if part in received:
                continue  # a resumed upload: the hub has it
            data = self.off_loop(lambda part=part: read_part(blob, part, part_bytes))
            self._retrying(lambda part=part, data=data: self.client.call(
                "PUT", f"/api/sync/backups/{name}/parts/{part}", data=data,
                headers={"Content-Type": "application/octet-stream"}))

    def _follow_stored_token(self) -> None:
        token = self.read_token() if self.read_token else None
        if token and self.client is not None and token != self.settings.token:
            self.settings = replace(self.settings, token=token)
            self.client.use_token(token)

    def _retrying(self, work: Callable[[], Any]) -> Any:
        return retrying(self.settings, work, self._note_retry, self.sleep)

    def _note_retry(self, retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        log.info("off-site upload attempt %d failed (%s); retrying", retry_state.attempt_number, error)

    # -- status ---------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "state": self.state, "hub_url": self.settings.hub_url or None,
                "key_id": self._key_id(),
                "pending": len(self.pending()) if self.enabled else 0, "last_uploaded": self.last_uploaded,
                "last_upload_at": self.last_upload_at, "last_error": self.last_error,
                "last_error_at": self.last_error_at}

    def _key_id(self) -> str | None:
        """The id (not the key) of backup.key, so the user can tell which exported key the hub's backups need."""
        try:
            key = load_key(self.data_dir.backup_key_file)
        except BackupCryptoError:
            return None
        return key_id(key).hex() if key else None

    def _now(self) -> str:
        return iso(self.clock.now())


def retrying(settings: SyncSettings, work: Callable[[], Any],
             before_sleep: Callable[[RetryCallState], None] | None = None,
             sleep: Callable[[float], None] | None = None) -> Any:
    """work(), retried like a sync request: SyncError is retried with backoff and full jitter, SyncRefused
    (a 4xx the same request will get again) is not."""
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

    def worth_retrying(exc: BaseException) -> bool:
        return isinstance(exc, SyncError) and not isinstance(exc, SyncRefused)

    return Retrying(retry=retry_if_exception(worth_retrying),
                    wait=wait_random_exponential(multiplier=settings.backoff_initial_s, max=settings.backoff_max_s),
                    stop=stop_after_attempt(settings.attempts), reraise=True,
                    **({"before_sleep": before_sleep} if before_sleep else {}),
                    **({"sleep": sleep} if sleep else {}))(work)


def describe(path: Path) -> tuple[int, str, str]:
    """(size, SHA-256 hex, key id hex from the header) of an encrypted backup file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        head = f.read(len(MAGIC) + 8)
        if not head.startswith(MAGIC) or len(head) < len(MAGIC) + 8:
            raise BackupCryptoError(f"{path.name} is not an encrypted backup; only those leave the machine")
        digest.update(head)
        while block := f.read(READ_BLOCK):
            digest.update(block)
    return path.stat().st_size, digest.hexdigest(), head[len(MAGIC):].hex()


def read_part(path: Path, part: int, part_bytes: int) -> bytes:
    with open(path, "rb") as f:
        f.seek((part - 1) * part_bytes)
        return f.read(part_bytes)


# -- restore on a new machine -----------------------------------------------------------------------------

def download_newest(client: HubClient, settings: SyncSettings, backups_dir: Path, key: bytes | None,
                    key_path: Path) -> Path:
    """Fetch this agent's newest backup from the hub into backups_dir and check it whole (SHA-256, then every
    chunk's GCM tag with the key); returns its path. OffsiteError says what stops it; nothing is restored here."""
    items = retrying(settings, lambda: client.call("GET", "/api/sync/backups")).get("items") or []
    if not items:
        raise OffsiteError("the hub has no backup of this agent yet (backups are uploaded after each verified "
                           "backup while a hub is configured)")
    newest = items[0]
    if key is None:
        raise OffsiteError(f"the hub's newest backup {newest['name']} is encrypted with key id {newest['key_id']} "
                           f"and there is no backup key at {key_path}; import the key you exported on the old "
                           "machine: agent.py backup import-key --key-stdin")
    if key_id(key).hex() != newest["key_id"]:
        raise OffsiteError(f"the hub's newest backup {newest['name']} is encrypted with key id {newest['key_id']}, "
                           f"but the key at {key_path} has id {key_id(key).hex()}; import the key exported on the "
                           "machine that made the backup (agent.py backup import-key --key-stdin)")
    backups_dir.mkdir(parents=True, exist_ok=True)
    target = backups_dir / newest["name"]
    partial = backups_dir / (newest["name"] + DOWNLOAD_SUFFIX)
    try:
        retrying(settings, lambda: _download(client, newest, partial))
        try:
            verify_file(partial, key)
        except BackupCryptoError as exc:
            raise OffsiteError(f"the backup downloaded from the hub was refused: {exc}") from None
        os.replace(partial, target)
    except SyncError as exc:
        raise OffsiteError(f"downloading {newest['name']} from the hub failed: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return target


def _download(client: HubClient, item: dict[str, Any], target: Path) -> None:
    """One attempt: the whole file, or SyncError (cut short, or not the file the hub listed: retried)."""
    import requests

    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, client.request("GET", f"/api/sync/backups/{item['name']}", stream=True) as reply:
        try:
            for block in reply.iter_content(READ_BLOCK):
                out.write(block)
                digest.update(block)
                size += len(block)
        except requests.RequestException as exc:
            raise SyncError(f"the download was cut short: {type(exc).__name__}") from None
        out.flush()
        os.fsync(out.fileno())
    if size != int(item["size_bytes"]) or digest.hexdigest() != item["sha256"]:
        raise SyncError(f"the download is not the file the hub listed ({size} of {item['size_bytes']} bytes, "
                        "or its SHA-256 differs)")
