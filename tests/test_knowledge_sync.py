"""A team shares one knowledge base: a hub on a real PostgreSQL (tests/postgres.py), two agents on SQLite, real
HTTP between them. Rounds are started by hand (sync.interval_s is an hour), so edits made between rounds compete
the way concurrent edits on two machines do."""

from __future__ import annotations

import pytest

from tests.helpers import wait_until
from tests.sync_helpers import add_agent, hub_query, start_agent, start_hub, sync_health


@pytest.fixture(scope="module")
def team(postgres, tmp_path_factory):
    hub, url = start_hub(postgres, tmp_path_factory.mktemp("hub"))
    agents = {}
    try:
        for name in ("a", "b"):
            token = add_agent(url, f"knowledge-{name}")
            agents[name] = start_agent(tmp_path_factory.mktemp(f"agent_{name}"), token, hub.url, interval_s=3600)
        yield hub, url, agents["a"], agents["b"]
    finally:
        for agent in agents.values():
            agent.stop()
        hub.stop()


def sync_round(agent) -> None:
    """One whole round (push, pull profiles, pull knowledge) of this agent, finished."""
    wait_until(lambda: sync_health(agent)["state"] != "syncing", timeout=60, message="the running round to end")
    before = sync_health(agent)["last_success_at"]
    assert agent.post("/api/sync/now", token=agent.local_token).status_code == 202
    wait_until(lambda: sync_health(agent)["last_success_at"] != before and sync_health(agent)["state"] == "idle",
               timeout=60, message="a sync round to succeed")


def by_uid(agent) -> dict[str, dict]:
    return {e["uid"]: e for e in agent.get("/api/knowledge?limit=200").json()["items"]}


def test_an_entry_made_on_one_agent_reaches_the_other(team, postgres):
    _hub, url, a, b = team
    created = a.post("/api/knowledge", json={"title": "Frete para BH", "content": "R$ 25, 3 dias úteis",
                                             "language": "pt", "tags": ["frete"], "shortcut": "frete"})
    assert created.status_code == 201, created.text
    entry = created.json()
    sync_round(a)
    assert hub_query(postgres, url, "SELECT title, shortcut FROM knowledge WHERE uid = %s", (entry["uid"],)) == \
        [("Frete para BH", "frete")]
    sync_round(b)
    on_b = by_uid(b)[entry["uid"]]
    assert {k: on_b[k] for k in ("title", "content", "language", "tags", "shortcut")} == \
        {k: entry[k] for k in ("title", "content", "language", "tags", "shortcut")}
    assert b.get("/api/quick-replies?prefix=fre").json()["items"][0]["title"] == "Frete para BH"


def test_the_newer_edit_wins_per_field(team, postgres):
    _hub, url, a, b = team
    entry = a.post("/api/knowledge", json={"title": "Pix", "content": "Aceitamos Pix", "tags": []}).json()
    sync_round(a)
    sync_round(b)
    on_b = by_uid(b)[entry["uid"]]
    # Both edit before either syncs: A first (older), B later (newer); content competes, tags and title do not.
    assert a.patch(f"/api/knowledge/{entry['id']}", json={"content": "Pix com 5% (A)", "tags": ["pix"]}).ok
    assert b.patch(f"/api/knowledge/{on_b['id']}", json={"content": "Pix com 10% (B)", "title": "Pagamento Pix"}).ok
    sync_round(a)
    sync_round(b)
    sync_round(a)
    expected = {"title": "Pagamento Pix", "content": "Pix com 10% (B)", "tags": ["pix"]}
    for agent in (a, b):
        merged = by_uid(agent)[entry["uid"]]
        assert {k: merged[k] for k in expected} == expected
    assert hub_query(postgres, url, "SELECT title, content FROM knowledge WHERE uid = %s", (entry["uid"],)) == \
        [("Pagamento Pix", "Pix com 10% (B)")]


def test_a_deletion_on_one_agent_removes_the_entry_on_the_other(team, postgres):
    _hub, url, a, b = team
    entry = a.post("/api/knowledge", json={"title": "Horário", "content": "9h às 18h", "shortcut": "horario"}).json()
    sync_round(a)
    sync_round(b)
    assert entry["uid"] in by_uid(b)
    assert a.request("DELETE", f"/api/knowledge/{entry['id']}").status_code == 204
    sync_round(a)
    assert hub_query(postgres, url, "SELECT COUNT(*) FROM knowledge WHERE uid = %s", (entry["uid"],)) == [(0,)]
    sync_round(b)
    assert entry["uid"] not in by_uid(b)
    assert b.get("/api/quick-replies?prefix=horario").json()["items"] == []
    # The shortcut is free again on both.
    assert b.post("/api/knowledge", json={"title": "Horário novo", "content": "8h", "shortcut": "horario"}).ok


def test_an_edit_that_crosses_a_deletion_does_not_bring_the_entry_back(team, postgres):
    _hub, url, a, b = team
    entry = a.post("/api/knowledge", json={"title": "Troca", "content": "7 dias"}).json()
    sync_round(a)
    sync_round(b)
    on_b = by_uid(b)[entry["uid"]]
    assert a.request("DELETE", f"/api/knowledge/{entry['id']}").status_code == 204
    sync_round(a)
    assert b.patch(f"/api/knowledge/{on_b['id']}", json={"content": "30 dias"}).ok  # B has not heard yet
    sync_round(b)
    assert entry["uid"] not in by_uid(b)
    assert hub_query(postgres, url, "SELECT COUNT(*) FROM knowledge WHERE uid = %s", (entry["uid"],)) == [(0,)]
    sync_round(a)
    assert entry["uid"] not in by_uid(a)


def test_a_shortcut_taken_on_two_agents_at_once_ends_with_one_entry(team, postgres):
    _hub, url, a, b = team
    first = a.post("/api/knowledge", json={"title": "Endereço A", "content": "Rua A", "shortcut": "endereco"}).json()
    second = b.post("/api/knowledge", json={"title": "Endereço B", "content": "Rua B", "shortcut": "endereco"}).json()
    sync_round(a)
    sync_round(b)  # the hub gave /endereco to A's entry first: B's loses it, on the hub and then on B
    sync_round(a)
    for agent in (a, b):
        entries = by_uid(agent)
        assert entries[first["uid"]]["shortcut"] == "endereco"
        assert entries[second["uid"]]["shortcut"] is None
    assert hub_query(postgres, url, "SELECT uid, shortcut FROM knowledge WHERE uid IN (%s, %s) ORDER BY title",
                     (first["uid"], second["uid"])) == [(first["uid"], "endereco"), (second["uid"], None)]
