"""Off-site backups on the team hub: a real hub on PostgreSQL, real agent services on SQLite, a chaos proxy
(drops, duplicates, delays) between them, and `agent.py backup restore --from-hub` into a fresh data directory."""

from __future__ import annotations

import hashlib
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests

from storage.backup_crypto import MAGIC, encrypt_file, load_or_create_key
from tests.chaos_proxy import ChaosProxy
from tests.helpers import wait_until, write_config
from tests.sync_helpers import (
    add_agent,
    agent_message_ids,
    captures,
    hub_query,
    prepare_agent,
    run_agent_cli,
    seed,
    start_agent,
    start_hub,
    sync_config,
)

KEEP = 2
HUB_CONFIG = {"sync": {"hub_backups_keep": KEEP},
              "security": {"rate_limit_per_s": 1_000_000.0, "rate_limit_burst": 1_000_000}}


@pytest.fixture(scope="module")
def hub(postgres, tmp_path_factory):
    running, url = start_hub(postgres, tmp_path_factory.mktemp("hub"), config=HUB_CONFIG)
    yield running, url
    running.stop()


# -- the hub's routes, called directly ---------------------------------------------------------------------------

class HubAgent:
    """One agent token's calls to the hub's backup routes."""

    def __init__(self, hub_url: str, token: str) -> None:
        self.url = hub_url
        self.headers = {"Authorization": f"Bearer {token}"}

    def start(self, name: str, blob: bytes, key_id: str, created_at: str = "2025-01-01T00:00:00Z") -> requests.Response:
        return requests.post(self.url + "/api/sync/backups", headers=self.headers, timeout=10, json={
            "name": name, "size_bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest(), "key_id": key_id,
            "created_at": created_at})

    def put(self, name: str, part: int, data: bytes) -> requests.Response:
        return requests.put(f"{self.url}/api/sync/backups/{name}/parts/{part}", data=data, timeout=10,
                            headers={**self.headers, "Content-Type": "application/octet-stream"})

    def complete(self, name: str) -> requests.Response:
        return requests.post(f"{self.url}/api/sync/backups/{name}/complete", data=b"", headers=self.headers,
                             timeout=10)

    def upload(self, name: str, blob: bytes, key_id: str, created_at: str) -> requests.Response:
        r = self.start(name, blob, key_id, created_at)
        assert r.status_code == 201, r.text
        part_bytes = r.json()["part_bytes"]
        for number in range(1, r.json()["parts"] + 1):
            assert self.put(name, number, blob[(number - 1) * part_bytes: number * part_bytes]).status_code == 200
        return self.complete(name)

    def names(self) -> list[str]:
        r = requests.get(self.url + "/api/sync/backups", headers=self.headers, timeout=10)
        assert r.status_code == 200, r.text
        return [item["name"] for item in r.json()["items"]]

    def download(self, name: str) -> requests.Response:
        return requests.get(f"{self.url}/api/sync/backups/{name}", headers=self.headers, timeout=10)


def _encrypted_blob(tmp_path: Path, size: int) -> tuple[bytes, str]:
    plain = tmp_path / "plain.bin"
    plain.write_bytes(bytes(range(256)) * (size // 256 + 1))
    key = load_or_create_key(tmp_path / "backup.key")
    sealed = tmp_path / "sealed.bin"
    encrypt_file(plain, sealed, key)
    return sealed.read_bytes(), hashlib.sha256(key).digest()[:8].hex()


def test_the_hub_keeps_each_agents_newest_backups_and_shows_them_to_that_agent_only(hub, tmp_path):
    hub_service, url = hub
    owner = HubAgent(hub_service.url, add_agent(url, "owner"))
    other = HubAgent(hub_service.url, add_agent(url, "other"))
    blob, key = _encrypted_blob(tmp_path, 2 * 1024 * 1024 + 5)  # three parts, the last one short
    names = [f"crm_agent-2025010{day}T000000000000Z.db.enc" for day in (1, 2, 3)]
    for day, name in enumerate(names, start=1):
        r = owner.upload(name, blob, key, f"2025-01-0{day}T00:00:00Z")
        assert r.status_code == 200 and r.json()["complete"], r.text
    assert r.json()["removed"] == 1
    assert owner.names() == names[:0:-1]  # the newest KEEP, newest first
    assert owner.download(names[-1]).content == blob
    assert owner.start(names[-1], blob, key).status_code == 200  # already there: nothing to send again

    # Another agent's token: the owner's backups do not exist for it, to read, overwrite or finish.
    assert other.names() == []
    assert other.download(names[-1]).status_code == 404
    assert other.put(names[-1], 1, blob[:1024]).status_code == 404
    assert other.complete(names[-1]).status_code == 404
    assert hub_service.get(f"/api/sync/backups/{names[-1]}").status_code == 401  # a user token is not an agent's


def test_the_hub_refuses_a_plain_file_and_parts_that_do_not_add_up(hub, tmp_path):
    hub_service, url = hub
    agent = HubAgent(hub_service.url, add_agent(url, "careless"))
    plain = b"SQLite format 3\x00" + b"\x00" * 4000
    r = agent.upload("crm_agent-20250101T000000000000Z.db.enc", plain, "00" * 8, "2025-01-01T00:00:00Z")
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_encrypted"
    assert agent.names() == []
    blob, key = _encrypted_blob(tmp_path, 1000)
    assert agent.start("crm_agent-x.db.enc", blob, key).status_code == 201
    assert agent.put("crm_agent-x.db.enc", 1, blob[:-1]).status_code == 422  # not the announced size
    assert agent.put("crm_agent-x.db.enc", 2, blob).status_code == 422  # a part the upload does not have
    assert agent.put("crm_agent-x.db.enc", 1, blob[:-1] + b"!").status_code == 200
    r = agent.complete("crm_agent-x.db.enc")
    assert r.status_code == 409 and r.json()["error"]["code"] == "upload_mismatch"
    assert agent.names() == []


# -- the round trip: a laptop's service uploads through chaos; a new laptop restores --------------------------------

def _offsite(agent) -> dict[str, Any]:
    r = agent.get("/api/system/backups")
    assert r.status_code == 200, r.text
    return r.json()["offsite"]


def _hub_backups(postgres, url: str, agent: str) -> list[tuple[str, bytes]]:
    return [(name, bytes(data)) for name, data in hub_query(
        postgres, url, "SELECT b.name, p.data FROM hub_backups b JOIN hub_agents a ON a.id = b.agent_id "
        "JOIN hub_backup_parts p ON p.backup_id = b.id WHERE a.name = %s AND b.completed_at IS NOT NULL "
        "AND p.part = 1 ORDER BY b.backup_created_at DESC, b.id DESC", (agent,))]


def _new_laptop(data_dir: Path, token: str, hub_url: str, key_hex: str | None, **sync: Any) -> None:
    prepare_agent(data_dir, token)
    write_config(data_dir, sync_config(hub_url, **sync))
    if key_hex is not None:
        result = run_agent_cli("backup", "import-key", "--key-stdin", "--data-dir", str(data_dir), stdin=key_hex + "\n")
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def laptop(hub, postgres, tmp_path_factory):
    """A laptop's service that captured messages and uploaded three backups through the chaos proxy; yields
    (proxy, hub db url, its token, its exported key, its message ids at the last backup)."""
    hub_service, url = hub
    proxy = ChaosProxy(hub_service.url, seed=14, drop_request=0.1, drop_response=0.1, duplicate=0.1,
                       delay_max_s=0.05).start()
    token = add_agent(url, "laptop")
    data_dir = tmp_path_factory.mktemp("laptop")
    agent = start_agent(data_dir, token, proxy.url)
    try:
        names = []
        for round_number in range(3):
            seed(agent, captures(f"r{round_number}", 200))
            r = agent.post("/api/system/backup")
            assert r.status_code == 201, r.text
            names.append(r.json()["name"] + ".enc")  # a plain local backup leaves as an encrypted copy
            wait_until(lambda: _offsite(agent)["last_uploaded"] == names[-1] and _offsite(agent)["pending"] == 0,
                       timeout=60, interval=0.2, message="the backup on the hub")
        assert proxy.stats["drop_request"] + proxy.stats["drop_response"] + proxy.stats["duplicate"] > 0
        expected = agent_message_ids(data_dir)
        assert len(expected) == 600
        key = run_agent_cli("backup", "export-key", "--data-dir", str(data_dir))
        assert key.returncode == 0, key.stderr
        yield {"proxy": proxy, "url": url, "token": token, "key": key.stdout.strip(), "expected": expected,
               "names": names, "agent": agent, "data_dir": data_dir}
    finally:
        agent.stop()
        proxy.stop()


def test_each_backup_reaches_the_hub_encrypted_and_the_hub_keeps_the_newest(laptop, postgres):
    stored = _hub_backups(postgres, laptop["url"], "laptop")
    assert [name for name, _ in stored] == laptop["names"][:0:-1]  # the newest KEEP of the three
    for _, first_part in stored:
        assert first_part.startswith(MAGIC)
        assert b"SQLite format" not in first_part and b"mensagem" not in first_part  # nothing readable left


def test_a_new_laptop_restores_every_message_from_the_hub_through_chaos(laptop, tmp_path):
    fresh = tmp_path / "new-laptop"
    _new_laptop(fresh, laptop["token"], laptop["proxy"].url, laptop["key"])
    result = run_agent_cli("backup", "restore", "--from-hub", "--data-dir", str(fresh), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert laptop["names"][-1] in result.stdout
    assert agent_message_ids(fresh) == laptop["expected"]
    conn = sqlite3.connect(fresh / "crm_agent.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_restore_from_the_hub_needs_the_key_and_refuses_a_tampered_blob(laptop, postgres, tmp_path):
    url = laptop["url"]
    no_key = tmp_path / "no-key"
    _new_laptop(no_key, laptop["token"], laptop["proxy"].url, None)
    result = run_agent_cli("backup", "restore", "--from-hub", "--data-dir", str(no_key))
    assert result.returncode == 1 and "import-key" in result.stderr, result.stderr

    # Someone with the hub's database changes a byte and fixes the listed SHA-256: the GCM tags still refuse it.
    newest = laptop["names"][-1]
    (backup_id,) = hub_query(postgres, url, "SELECT id FROM hub_backups WHERE name = %s", (newest,))[0]
    _tamper(postgres, url, backup_id)
    tampered = tmp_path / "tampered"
    # Retries enough to get through the chaos proxy's dropped connections: the tamper, not the network, must refuse.
    _new_laptop(tampered, laptop["token"], laptop["proxy"].url, laptop["key"], retry_attempts=8)
    result = run_agent_cli("backup", "restore", "--from-hub", "--data-dir", str(tampered))
    assert result.returncode == 1, result.stdout
    assert "tampered" in result.stderr and "unchanged" in result.stderr, result.stderr
    assert agent_message_ids(tampered) == set()
    assert not (tampered / "backups" / newest).exists()


def test_restore_from_an_unreachable_hub_says_so_in_one_line(laptop, tmp_path):
    # Seen in CI: the chaos proxy dropped every attempt and the CLI printed a SyncError traceback.
    gone = tmp_path / "gone"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    _new_laptop(gone, laptop["token"], f"http://127.0.0.1:{closed_port}", laptop["key"], retry_attempts=1)
    result = run_agent_cli("backup", "restore", "--from-hub", "--data-dir", str(gone))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "hub unreachable" in result.stderr, result.stderr
    assert "unchanged" in result.stderr, result.stderr


def _tamper(postgres, url: str, backup_id: int) -> None:
    conn = postgres.connect(url.split("/")[3].split("?")[0])
    try:
        with conn, conn.cursor() as cur:
            cur.execute("UPDATE hub_backup_parts SET data = overlay(data placing '\\x00'::bytea from 200 for 1) "
                        "WHERE backup_id = %s AND part = 1", (backup_id,))
            cur.execute("SELECT data FROM hub_backup_parts WHERE backup_id = %s ORDER BY part", (backup_id,))
            digest = hashlib.sha256(b"".join(bytes(row[0]) for row in cur.fetchall())).hexdigest()
            cur.execute("UPDATE hub_backups SET sha256 = %s WHERE id = %s", (digest, backup_id))
    finally:
        conn.close()


def test_an_upload_waiting_on_a_down_hub_does_not_hold_captures_up(laptop):
    agent, proxy = laptop["agent"], laptop["proxy"]
    proxy.blocked = True  # the hub answers 503 to everything: the upload retries with backoff
    try:
        r = agent.post("/api/system/backup")
        assert r.status_code == 201, r.text
        wait_until(lambda: _offsite(agent)["last_error"] is not None or _offsite(agent)["state"] == "uploading",
                   timeout=30, message="the upload to meet the down hub")
        for body in captures("while-down", 20):
            assert agent.post("/api/messages/capture", json=body, timeout=5).status_code in (200, 201)
        assert _offsite(agent)["pending"] == 1
    finally:
        proxy.blocked = False
    wait_until(lambda: _offsite(agent)["pending"] == 0, timeout=60, interval=0.2,
               message="the upload after the hub is back")


def test_the_backup_key_is_exported_and_imported_without_replacing_another_by_accident(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    exported = run_agent_cli("backup", "export-key", "--data-dir", str(old))
    assert exported.returncode == 0 and (old / "backup.key").stat().st_mode & 0o777 == 0o600
    key = exported.stdout.strip()
    assert len(key) == 64 and "export" not in exported.stdout  # stdout is the key alone (for a pipe)
    assert run_agent_cli("backup", "import-key", "--key-stdin", "--data-dir", str(new), stdin="zz\n").returncode == 1
    assert run_agent_cli("backup", "export-key", "--data-dir", str(new)).returncode == 0  # new has its own key now
    refused = run_agent_cli("backup", "import-key", "--key-stdin", "--data-dir", str(new), stdin=key + "\n")
    assert refused.returncode == 1 and "--force" in refused.stderr
    forced = run_agent_cli("backup", "import-key", "--key-stdin", "--force", "--data-dir", str(new), stdin=key + "\n")
    assert forced.returncode == 0, forced.stderr
    assert (new / "backup.key").read_text().strip() == key
