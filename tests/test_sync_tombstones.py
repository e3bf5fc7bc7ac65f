"""Deletions reach the team hub as tombstones: a deleted customer, a retention purge (a merged customer: see
test_sync.py test_lid_and_group_customers_and_a_merge_sync_without_ghosts). The hub applies them idempotently and
in change_seq order: a late push of a row's older version never brings a deleted row back."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from tests.helpers import message
from tests.sync_helpers import (
    add_agent,
    hub_query,
    push_rows,
    run_agent_cli,
    start_agent,
    start_hub,
    sync_health,
    wait_synced,
)


@pytest.fixture(scope="module")
def hub(postgres, tmp_path_factory):
    running, url = start_hub(postgres, tmp_path_factory.mktemp("hub"))
    yield running, url
    running.stop()


def _stored(postgres, url, agent):
    return hub_query(postgres, url, "SELECT r.table_name, r.row_id, r.change_seq, r.deleted_reason, r.data::text "
                     "FROM hub_rows r JOIN hub_agents a ON a.id = r.agent_id WHERE a.name = %s "
                     "ORDER BY r.table_name, r.row_id", (agent,))


def test_the_hub_applies_tombstones_idempotently_and_never_resurrects_a_row(hub, postgres):
    hub_service, url = hub
    token = add_agent(url, "tombstones")
    row = {"t": "messages", "id": 7, "seq": 5, "data": {"id": 7, "content": "secret", "change_seq": 5}}
    newer = dict(row, seq=8, data={"id": 7, "content": "edited", "change_seq": 8})
    tombstone = {"t": "messages", "id": 7, "seq": 9, "data": {}, "deleted": "deleted"}
    assert push_rows(hub_service, token, [row], 5).status_code == 200
    for _ in range(2):  # a repeated tombstone changes nothing
        r = push_rows(hub_service, token, [tombstone], 9)
        assert r.status_code == 200, r.text
    assert _stored(postgres, url, "tombstones") == [("messages", 7, 9, "deleted", "{}")]
    # Late pushes of older versions (a retry of a batch the agent sent before the deletion) do not resurrect it,
    # nor does a batch holding the row and its tombstone out of order.
    assert push_rows(hub_service, token, [row], 5).status_code == 200
    assert push_rows(hub_service, token, [tombstone, newer], 9).status_code == 200
    assert _stored(postgres, url, "tombstones") == [("messages", 7, 9, "deleted", "{}")]
    # A row deleted before it was ever pushed arrives as its tombstone alone: kept as a marker, so its older
    # version arriving later stays out too.
    purge = {"t": "ai_analysis", "id": 3, "seq": 11, "data": {}, "deleted": "retention"}
    assert push_rows(hub_service, token, [purge], 11).status_code == 200
    older = {"t": "ai_analysis", "id": 3, "seq": 10, "data": {"id": 3}}
    assert push_rows(hub_service, token, [older], 11).status_code == 200
    assert _stored(postgres, url, "tombstones")[0] == ("ai_analysis", 3, 11, "retention", "{}")
    # A deleted customer is not merged into the team's profiles (it carries no phone), and the agent's row count
    # on the hub leaves tombstones out.
    gone = {"t": "customers", "id": 4, "seq": 12, "data": {}, "deleted": "deleted"}
    assert push_rows(hub_service, token, [gone], 12).status_code == 200
    r = push_rows(hub_service, token, [dict(gone, deleted="vanished")], 12)
    assert r.status_code == 422
    listed = [line for line in run_agent_cli("hub", "agent-list", "--db", url).stdout.splitlines()
              if line.startswith("tombstones\t")]
    assert "\trows=0\t" in listed[0]


def _agent_db(data_dir):
    return sqlite3.connect(data_dir / "crm_agent.db")


def _hub_rows_by_reason(postgres, url, agent):
    rows = hub_query(postgres, url, "SELECT r.table_name, r.row_id, r.deleted_reason FROM hub_rows r JOIN hub_agents a "
                     "ON a.id = r.agent_id WHERE a.name = %s", (agent,))
    return {(table, row_id): reason for table, row_id, reason in rows}


def test_a_deleted_customer_reaches_the_hub_as_tombstones(hub, postgres, tmp_path):
    hub_service, url = hub
    agent = start_agent(tmp_path / "a", add_agent(url, "deleter"), hub_service.url)
    try:
        for _ in range(3):
            assert agent.post("/api/messages/capture", json=message()).status_code == 201
        keep = message(chat_id="5511988880000@c.us", phone="+55 11 98888-0000", name="Joana")
        assert agent.post("/api/messages/capture", json=keep).status_code == 201
        wait_synced({"deleter": (agent, tmp_path / "a")}, postgres, url)
        with _agent_db(tmp_path / "a") as conn:
            doomed = {(t, r[0]) for t, sql in (
                ("customers", "SELECT id FROM customers WHERE phone = '+5511999990000'"),
                ("conversations", "SELECT c.id FROM conversations c JOIN customers u ON u.id = c.customer_id "
                                  "WHERE u.phone = '+5511999990000'"),
                ("messages", "SELECT m.id FROM messages m JOIN customers u ON u.id = m.customer_id "
                             "WHERE u.phone = '+5511999990000'"),
                ("ai_analysis", "SELECT a.id FROM ai_analysis a JOIN messages m ON m.id = a.message_id "
                                "JOIN customers u ON u.id = m.customer_id WHERE u.phone = '+5511999990000'"))
                for r in conn.execute(sql)}
        assert len(doomed) == 1 + 1 + 3 + 3
        r = agent.request("DELETE", "/api/customers/+55 11 99999-0000")  # any phone format, as the other routes
        assert r.status_code == 200, r.text
        assert r.json()["deleted"] == {"customers": 1, "conversations": 1, "messages": 3, "ai_analysis": 3}
        assert agent.get("/api/customers/+5511999990000").status_code == 404
        wait_synced({"deleter": (agent, tmp_path / "a")}, postgres, url)
        on_hub = _hub_rows_by_reason(postgres, url, "deleter")
        assert {key: on_hub[key] for key in doomed} == dict.fromkeys(doomed, "deleted")
        assert [reason for key, reason in on_hub.items() if key not in doomed] == [None] * 4  # Joana's rows
        assert hub_query(postgres, url, "SELECT COUNT(*) FROM hub_rows WHERE deleted_reason IS NOT NULL "
                         "AND data::text <> '{}'") == [(0,)]  # the content is gone from the hub too
        with _agent_db(tmp_path / "a") as conn:  # acknowledged tombstones are pruned on the agent
            assert conn.execute("SELECT COUNT(*) FROM sync_tombstones").fetchone()[0] == 0
        assert sync_health(agent)["pending_rows"] == 0
    finally:
        agent.stop()


def test_a_retention_purge_reaches_the_hub_as_tombstones(hub, postgres, tmp_path):
    hub_service, url = hub
    agent = start_agent(tmp_path / "a", add_agent(url, "purger"), hub_service.url)
    try:
        now = datetime.now(timezone.utc)
        old = [message(timestamp=int((now - timedelta(days=40, minutes=i)).timestamp() * 1000)) for i in range(4)]
        new = [message(timestamp=int((now - timedelta(days=1, minutes=i)).timestamp() * 1000)) for i in range(2)]
        for body in old + new:
            assert agent.post("/api/messages/capture", json=body).status_code == 201
        wait_synced({"purger": (agent, tmp_path / "a")}, postgres, url)
        with _agent_db(tmp_path / "a") as conn:
            old_ids = {r[0] for r in conn.execute(
                f"SELECT id FROM messages WHERE message_id IN ({', '.join('?' * len(old))})",
                [b["message_id"] for b in old])}
        r = agent.request("PUT", "/api/system/config", json={"changes": {"database.message_retention_days": 30}})
        assert r.status_code == 200, r.text
        report = agent.post("/api/system/maintenance").json()
        assert report["messages_deleted"] == 4
        wait_synced({"purger": (agent, tmp_path / "a")}, postgres, url)
        on_hub = _hub_rows_by_reason(postgres, url, "purger")
        assert {row_id: reason for (table, row_id), reason in on_hub.items() if table == "messages"} == \
            {row_id: ("retention" if row_id in old_ids else None) for (table, row_id) in on_hub if table == "messages"}
        assert sum(1 for (table, _), reason in on_hub.items() if table == "ai_analysis" and reason == "retention") == 4
        assert sum(1 for (table, _), reason in on_hub.items() if table == "messages" and reason is None) == 2
        with _agent_db(tmp_path / "a") as conn:
            assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 2
            assert conn.execute("SELECT COUNT(*) FROM sync_tombstones").fetchone()[0] == 0
    finally:
        agent.stop()
