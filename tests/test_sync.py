"""Team hub sync: a hub on a real PostgreSQL (tests/postgres.py), agents on SQLite, real HTTP between them."""

from __future__ import annotations

import json
import os
import signal
import sqlite3

import pytest
import requests

from storage import hlc
from storage.profiles import merge
from tests.chaos_proxy import ChaosProxy
from tests.helpers import start_service, wait_until
from tests.sync_helpers import (
    add_agent,
    assert_no_missing_or_duplicated,
    captures,
    hub_query,
    phone,
    prepare_agent,
    push_rows,
    run_agent_cli,
    seed,
    start_agent,
    start_hub,
    sync_health,
    wait_synced,
)

MESSAGES_PER_AGENT = 5000  # two agents: 10,000 messages


# -- the clock and the merge, without a network ----------------------------------------------------------

def test_hlc_orders_by_time_then_counter_then_node():
    first = hlc.tick("", 1_000, "a")
    same_ms = hlc.tick(first, 1_000, "a")
    clock_went_back = hlc.tick(same_ms, 900, "a")
    assert "" < first < same_ms < clock_went_back
    assert hlc.decode(clock_went_back) == hlc.Stamp(1_000, 2, "a")
    remote = hlc.tick("", 5_000, "b")
    after_seeing_remote = hlc.tick(hlc.observe(clock_went_back, remote), 1_001, "a")
    assert after_seeing_remote > remote
    assert hlc.observe(remote, "garbage") == remote and hlc.decode("1.2.x") is None


def test_merge_is_per_field_last_writer_wins_and_reports_the_loser():
    older, newer = hlc.tick("", 1_000, "a"), hlc.tick("", 2_000, "b")
    current = {"name": "Ana", "status": "lead", "tags": ["vip"]}
    result = merge(current, {"name": older, "tags": older}, {"name": "Ana B", "status": "customer", "tags": ["x"]},
                   {"name": newer, "tags": ""}, incoming_fills_unstamped=True)
    assert result.changes == {"name": "Ana B", "status": "customer"}  # tags: the local edit is newer
    assert result.hlc == {"name": newer, "tags": older}
    assert [(c.field, c.losing_value, c.winning_value) for c in result.conflicts] == [("name", "Ana", "Ana B")]
    on_hub = merge({"name": "Ana", "status": "lead"}, {}, {"name": "WhatsApp name", "status": "customer"}, {},
                   incoming_fills_unstamped=False)
    assert on_hub.changes == {} and on_hub.conflicts == []  # the hub keeps its own unedited values


# -- the hub's API ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hub(postgres, tmp_path_factory):
    running, url = start_hub(postgres, tmp_path_factory.mktemp("hub"))
    yield running, url
    running.stop()


def test_hub_push_is_idempotent_and_never_goes_back_to_an_older_change(hub, postgres):
    hub_service, url = hub
    token = add_agent(url, "direct")
    row = {"t": "messages", "id": 7, "seq": 5, "data": {"id": 7, "message_id": "wamid.X", "change_seq": 5}}
    for _ in range(2):
        r = push_rows(hub_service, token, [row], 5)
        assert r.status_code == 200 and r.json() == {"acknowledged_seq": 5, "rows": 1}
    newer = dict(row, seq=9, data={"id": 7, "message_id": "wamid.X", "change_seq": 9, "content": "edited"})
    assert push_rows(hub_service, token, [newer], 9).status_code == 200
    assert push_rows(hub_service, token, [row], 5).status_code == 200  # a late duplicate of the older batch
    stored = hub_query(postgres, url, "SELECT r.change_seq, r.data->>'content' FROM hub_rows r JOIN hub_agents a "
                       "ON a.id = r.agent_id WHERE a.name = 'direct'")
    assert stored == [(9, "edited")]


def test_a_batch_naming_a_row_twice_keeps_its_newest_version(hub, postgres):
    # Found by the fuzzer: one upsert statement cannot touch a row twice (it was a 500).
    hub_service, url = hub
    token = add_agent(url, "twice")
    older = {"t": "messages", "id": 3, "seq": 4, "data": {"id": 3, "content": "old", "change_seq": 4}}
    newer = {"t": "messages", "id": 3, "seq": 6, "data": {"id": 3, "content": "new", "change_seq": 6}}
    r = push_rows(hub_service, token, [newer, older], 6)
    assert r.status_code == 200, r.text
    stored = hub_query(postgres, url, "SELECT r.change_seq, r.data->>'content' FROM hub_rows r JOIN hub_agents a "
                       "ON a.id = r.agent_id WHERE a.name = 'twice'")
    assert stored == [(6, "new")]


def test_hub_refuses_other_tokens_and_bad_batches(hub):
    hub_service, url = hub
    token = add_agent(url, "checks")
    assert push_rows(hub_service, "crmhub_not-a-token", [], 0).status_code == 401
    assert push_rows(hub_service, hub_service.local_token, [], 0).status_code == 401  # a user token is not an agent's
    assert hub_service.get("/api/sync/profiles").status_code == 401
    r = push_rows(hub_service, token, [{"t": "messages", "id": 1, "seq": 9, "data": {}}], 5)
    assert r.status_code == 422 and "upto" in r.json()["error"]["message"]
    r = push_rows(hub_service, token, [{"t": "users", "id": 1, "seq": 1, "data": {}}], 5)
    assert r.status_code == 422 and r.json()["error"]["field"].startswith("rows")
    assert run_agent_cli("hub", "agent-add", "checks", "--db", url).returncode == 1  # names are unique


def test_agent_endpoints_and_an_unreachable_hub(tmp_path, service):
    # An agent's own service is not a hub, and without configuration sync is off.
    assert service.post("/api/sync/push", json={"upto": 0, "rows": []},
                        headers={"Authorization": "Bearer crmhub_x"}).status_code == 401
    assert service.get("/api/health").json()["sync"] == {**service.get("/api/sync/status").json()}
    assert service.post("/api/sync/now", json={}).status_code == 409
    # Configured, but the hub is down: the cursor stays, the error is reported, nothing is lost.
    data_dir = tmp_path / "offline"
    prepare_agent(data_dir, "crmhub_whatever")
    agent = start_service(data_dir, config={"sync": {"hub_url": "http://127.0.0.1:9", "interval_s": 0.2,
                                                     "retry_attempts": 2, "backoff_initial_s": 0.01}})
    try:
        assert agent.post("/api/messages/capture", json=captures("off", 1)[0]).status_code == 201
        status = wait_until(lambda: (s := sync_health(agent))["last_error"] and s, message="a sync error")
        assert status["cursor"] == 0 and status["pending_rows"] >= 4 and status["last_success_at"] is None
        assert "unreachable" in status["last_error"]
        assert agent.post("/api/sync/now", json={}).status_code == 202
    finally:
        agent.stop()
    result = run_agent_cli("sync", "now", "--data-dir", str(data_dir))
    assert result.returncode == 1 and "unreachable" in result.stderr


# -- two agents and a hub --------------------------------------------------------------------------------

def _edit_shared_profile(a, b, data_a, data_b):
    """A edits name and tags, B edits name and status of the same customer, before either has synced them."""
    number = phone(3)
    assert a.patch(f"/api/customers/{number}", json={"name": "Nome de A", "tags": ["vip"]}).status_code == 200
    assert b.patch(f"/api/customers/{number}", json={"name": "Nome de B", "status": "customer"}).status_code == 200
    stamps = {}
    for key, data_dir in (("a", data_a), ("b", data_b)):
        conn = sqlite3.connect(data_dir / "crm_agent.db")
        stamps[key] = json.loads(conn.execute("SELECT field_hlc FROM customers WHERE phone = '+5511990031003'")
                                 .fetchone()[0])["name"]
        conn.close()
    winner, loser = ("Nome de A", "Nome de B") if stamps["a"] > stamps["b"] else ("Nome de B", "Nome de A")
    return number, winner, loser


def _assert_profiles_converged(agents, number, winner, loser, postgres, url):
    def same_profile():
        profiles = [agent.get(f"/api/customers/{number}").json() for agent in agents]
        return all(p["name"] == winner and p["tags"] == ["vip"] and p["status"] == "customer" for p in profiles)

    wait_until(same_profile, timeout=60, interval=0.3, message="the shared profile to converge")
    logged = [item["losing_value"] for agent in agents for item in agent.get("/api/sync/conflicts").json()["items"]]
    on_hub = hub_query(postgres, url, "SELECT losing_value FROM sync_conflicts WHERE field = 'name'")
    assert json.dumps(loser) in {r[0] for r in on_hub} or loser in logged


def test_two_agents_converge_over_10000_messages(postgres, tmp_path):
    hub_service, url = start_hub(postgres, tmp_path / "hub")
    data_a, data_b = tmp_path / "a", tmp_path / "b"
    a = start_agent(data_a, add_agent(url, "a"), hub_service.url)
    b = start_agent(data_b, add_agent(url, "b"), hub_service.url)
    try:
        seed(a, captures("a", MESSAGES_PER_AGENT))  # syncing runs meanwhile
        seed(b, captures("b", MESSAGES_PER_AGENT))
        number, winner, loser = _edit_shared_profile(a, b, data_a, data_b)
        only_a = captures("only-a", 1, customers=1)[0] | {"phone": "+55 21 98888-7777", "chat_id": "55219888@c.us"}
        assert a.post("/api/messages/capture", json=only_a).status_code == 201
        wait_synced({"a": (a, data_a), "b": (b, data_b)}, postgres, url)
        assert_no_missing_or_duplicated(postgres, url, {"a": data_a, "b": data_b})
        _assert_profiles_converged([a, b], number, winner, loser, postgres, url)
        # A customer only A has talked to is known to B too: one customer for the team.
        assert b.get("/api/customers/+5521988887777").status_code == 200
        wait_synced({"a": (a, data_a), "b": (b, data_b)}, postgres, url)  # the merges' own changes too
    finally:
        a.stop()
        b.stop()
        hub_service.stop()


def test_converge_through_a_chaos_proxy_with_an_agent_killed_mid_batch(postgres, tmp_path):
    hub_service, url = start_hub(postgres, tmp_path / "hub")
    proxy = ChaosProxy(hub_service.url, seed=20261129).start()
    proxy.blocked = True  # the hub is unreachable while the agents fill up
    data_a, data_b = tmp_path / "a", tmp_path / "b"
    token_a = add_agent(url, "a")
    a = start_agent(data_a, token_a, proxy.url, batch_size=300)
    b = start_agent(data_b, add_agent(url, "b"), proxy.url, batch_size=300)
    restarted = None
    try:
        seed(a, captures("a", MESSAGES_PER_AGENT))
        seed(b, captures("b", MESSAGES_PER_AGENT))
        number, winner, loser = _edit_shared_profile(a, b, data_a, data_b)
        assert sync_health(a)["pending_rows"] > 10000 and sync_health(a)["cursor"] == 0

        pushes_from_a = []

        def kill_a_mid_batch(path, headers, status):
            # The hub has committed A's third batch; A dies before it hears the acknowledgement.
            if path == "/api/sync/push" and headers.get("Authorization") == f"Bearer {token_a}" and status == 200:
                pushes_from_a.append(path)
                if len(pushes_from_a) == 3:
                    os.kill(a.process.pid, signal.SIGKILL)

        proxy.on_forwarded = kill_a_mid_batch
        proxy.set_rates(drop_request=0.2, drop_response=0.2, duplicate=0.1)
        proxy.blocked = False
        a.process.wait(timeout=60)
        assert a.process.returncode == -signal.SIGKILL
        proxy.on_forwarded = None
        conn = sqlite3.connect(data_a / "crm_agent.db")
        cursor_at_death = conn.execute("SELECT push_cursor FROM sync_state").fetchone()[0]
        conn.close()
        acked_by_hub = hub_query(postgres, url, "SELECT acked_seq FROM hub_agents WHERE name = 'a'")[0][0]
        assert acked_by_hub > cursor_at_death  # the hub committed a batch whose acknowledgement A never saw
        restarted = start_agent(data_a, token_a, proxy.url, batch_size=300)  # same data: resumes from its cursor
        wait_synced({"a": (restarted, data_a), "b": (b, data_b)}, postgres, url, timeout=150)
        assert_no_missing_or_duplicated(postgres, url, {"a": data_a, "b": data_b})
        _assert_profiles_converged([restarted, b], number, winner, loser, postgres, url)
        assert proxy.stats["drop_request"] and proxy.stats["drop_response"] and proxy.stats["duplicate"]
    finally:
        a.stop()
        if restarted is not None:
            restarted.stop()
        b.stop()
        proxy.stop()
        hub_service.stop()


# -- TLS -----------------------------------------------------------------------------------------------

def _private_ca_and_server_cert(directory):
    """A self-signed CA and a certificate it signed for 127.0.0.1 / localhost (PEM files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CRM test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False),
                              critical=True)
               .sign(ca_key, hashes.SHA256()))
    server_cert = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                   .issuer_name(ca_name).public_key(server_key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                               x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    paths = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca_cert.public_bytes(pem))
    paths["cert"].write_bytes(server_cert.public_bytes(pem))
    paths["key"].write_bytes(server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    return paths


def test_hub_over_tls_verifies_the_certificate(postgres, tmp_path):
    pki = _private_ca_and_server_cert(tmp_path)
    db_url = postgres.create_database("hub_tls")
    hub_service = start_service(tmp_path / "hub", config={"server": {"tls_cert_file": str(pki["cert"]),
                                                                     "tls_key_file": str(pki["key"])}},
                                extra_args=("--hub", "--db", db_url), verify=str(pki["ca"]))
    data_dir = tmp_path / "agent"
    try:
        assert hub_service.url.startswith("https://")
        agent = start_service(data_dir)
        assert agent.post("/api/messages/capture", json=captures("tls", 1)[0]).status_code == 201
        agent.stop()
        prepare_agent(data_dir, add_agent(db_url, "tls"))
        config = json.loads((data_dir / "config.json").read_text())
        config["sync"] = {"hub_url": hub_service.url, "retry_attempts": 1}
        (data_dir / "config.json").write_text(json.dumps(config))
        refused = run_agent_cli("sync", "now", "--data-dir", str(data_dir))
        assert refused.returncode == 1 and "TLS verification of the hub failed" in refused.stderr
        assert hub_query(postgres, db_url, "SELECT COUNT(*) FROM hub_rows")[0][0] == 0

        config["sync"]["ca_file"] = str(pki["ca"])
        (data_dir / "config.json").write_text(json.dumps(config))
        synced = run_agent_cli("sync", "now", "--data-dir", str(data_dir))
        assert synced.returncode == 0, synced.stderr
        assert json.loads(synced.stdout)["pending_rows"] == 0
        assert hub_query(postgres, db_url, "SELECT COUNT(*) FROM hub_rows WHERE table_name = 'messages'")[0][0] == 1
        status = json.loads(run_agent_cli("sync", "status", "--data-dir", str(data_dir)).stdout)
        assert status["last_success_at"] and status["last_error"] is None and status["cursor"] > 0
    finally:
        hub_service.stop()


def test_a_batch_too_big_for_the_hub_is_split(postgres, tmp_path):
    hub_service, url = start_hub(postgres, tmp_path / "hub")
    data_dir = tmp_path / "agent"
    agent = start_agent(data_dir, add_agent(url, "big"), hub_service.url, batch_size=500, interval_s=60.0)
    try:
        bodies = [body | {"content": f"{i} " + "x" * 60_000} for i, body in enumerate(captures("big", 300))]
        seed(agent, bodies, threads=4)  # ~300 x 60 KB: one batch would be over the hub's 16 MiB body limit
        assert agent.post("/api/sync/now", json={}).status_code == 202
        wait_synced({"big": (agent, data_dir)}, postgres, url, timeout=60)
        assert " 413 " in hub_service.log_text()
    finally:
        agent.stop()
        hub_service.stop()


def test_lid_and_group_customers_and_a_merge_sync_without_ghosts(postgres, tmp_path):
    """@lid and group customers reach the hub's rows but not its shared (per phone) profiles; a @lid merged
    into its phone's customer stays on the agent as an alias and reaches the hub as a tombstone ("merged")."""
    from tests.helpers import message

    hub_service, url = start_hub(postgres, tmp_path / "hub")
    data_a, data_b = tmp_path / "a", tmp_path / "b"
    a = start_agent(data_a, add_agent(url, "a"), hub_service.url)
    b = start_agent(data_b, add_agent(url, "b"), hub_service.url)
    lid, group, number = "123456789012345@lid", "120363000000000001@g.us", "+5511987650001"
    try:
        bodies = [message(chat_id="5511987650001@c.us", phone=None, name="Ana"),
                  message(chat_id=lid, phone=None, name="Ana (oculta)"),
                  message(chat_id=group, phone=None, direction="out", chat_name="Clientes"),
                  message(chat_id=group, phone=None, participant="987654321098765@lid", chat_name="Clientes")]
        for body in bodies:
            assert a.post("/api/messages/capture", json=body).status_code == 201
        wait_synced({"a": (a, data_a), "b": (b, data_b)}, postgres, url)
        merged = message(chat_id=lid, phone=number)  # the phone arrives: the @lid customer folds into Ana's
        assert a.post("/api/messages/capture", json=merged).status_code == 201
        assert a.get(f"/api/customers/{number}").json()["message_counts"]["total"] == 3
        wait_synced({"a": (a, data_a), "b": (b, data_b)}, postgres, url)
        shared = {row[0] for row in hub_query(postgres, url, "SELECT phone FROM customers")}
        assert shared == {number}
        pushed = {row[0] for row in hub_query(postgres, url, "SELECT r.data->>'kind' FROM hub_rows r "
                                                             "WHERE r.table_name = 'customers' "
                                                             "AND r.deleted_reason IS NULL")}
        assert pushed == {"phone", "lid", "group"}
        # The @lid customer, now only an alias on the agent, is a tombstone on the hub (its content gone).
        assert hub_query(postgres, url, "SELECT r.deleted_reason, r.data->>'merged_into' IS NOT NULL FROM hub_rows r "
                         "WHERE r.table_name = 'customers' AND r.deleted_reason IS NOT NULL") == [("merged", True)]
        wait_until(lambda: b.get(f"/api/customers/{number}").status_code == 200, timeout=30,
                   message="the phone profile on b")
        assert [c["key"] for c in b.get("/api/customers").json()["items"]] == [number]
        assert sync_health(a)["last_error"] is None
    finally:
        a.stop()
        b.stop()
        hub_service.stop()


def test_generated_pushes_never_get_a_server_error_from_the_hub(hub, postgres):
    """schemathesis against the hub's agent endpoints, with an agent token (the agent suite excludes them)."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    hub_service, url = hub
    token = add_agent(url, "fuzz")
    st = shutil.which("st") or str(Path(sys.executable).with_name("st"))
    result = subprocess.run(
        [st, "run", f"{hub_service.url}/api/openapi.json", "-H", f"Authorization: Bearer {token}",
         "--include-path-regex", "^/api/sync/(push|profiles)$", "--checks", "not_a_server_error",
         "--phases", "examples,coverage,fuzzing", "--max-examples", "40", "--generation-deterministic",
         "--request-timeout", "20"], capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "2 selected" in output.replace("  ", " "), output[-5000:]
    # A NUL character (which PostgreSQL text cannot hold) is stored as U+FFFD rather than failing the batch.
    row = {"t": "customers", "id": 1, "seq": 1, "data": {"phone": "+5511999990000", "name": "A\x00B"}}
    assert push_rows(hub_service, token, [row], 1).status_code == 200
    assert hub_query(postgres, url, "SELECT name FROM customers WHERE phone = '+5511999990000'") == \
        [("A\ufffdB",)]
    # Data nested deeper than the JSON encoder goes: a clear 422 (the fuzzer found a 500), not a 500.
    body = b'{"upto": 2, "rows": [{"t": "messages", "id": 2, "seq": 2, "data": {"k": ' + b"[" * 300 + b"]" * 300 \
        + b"}}]}"
    r = requests.post(hub_service.url + "/api/sync/push", data=body, timeout=10,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert r.status_code == 422 and "cannot be stored" in r.json()["error"]["message"], r.text
