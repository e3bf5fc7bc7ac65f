"""Hub agent tokens: listed with their state and last use, revoked (from the next request on) and rotated
without data loss (the agent keeps its id, its rows and its acknowledged cursor), on a real hub with a real
agent syncing before and after; and the same storage functions on SQLite."""

from __future__ import annotations

import requests

from core.clock import FakeClock, iso
from storage.database import Database, sqlite_url
from storage.hub import add_agent as add_agent_row
from storage.hub import check_token, list_agents, revoke_agent, rotate_agent
from storage.migrations import migrate
from tests.helpers import wait_until
from tests.sync_helpers import (
    add_agent,
    assert_no_missing_or_duplicated,
    captures,
    hub_query,
    run_agent_cli,
    seed,
    start_agent,
    start_hub,
    sync_health,
    wait_synced,
)


def _push(hub_url: str, token: str) -> requests.Response:
    return requests.post(hub_url + "/api/sync/push", json={"upto": 0, "rows": []},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _pull(hub_url: str, token: str) -> requests.Response:
    return requests.get(hub_url + "/api/sync/profiles", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _agent_row(postgres, db_url: str, name: str) -> tuple:
    return hub_query(postgres, db_url, "SELECT id, acked_seq, active, (SELECT COUNT(*) FROM hub_rows r WHERE "
                     "r.agent_id = a.id) FROM hub_agents a WHERE name = %s", (name,))[0]


def _listed(db_url: str) -> dict[str, list[str]]:
    result = run_agent_cli("hub", "agent-list", "--db", db_url)
    assert result.returncode == 0, result.stderr
    return {line.split("\t")[0]: line.split("\t")[1:] for line in result.stdout.splitlines()}


def test_rotate_then_revoke_an_agent_that_keeps_syncing_in_between(postgres, tmp_path):
    hub, db_url = start_hub(postgres, tmp_path / "hub")
    agent_dir = tmp_path / "laptop"
    agent = None
    try:
        old_token = add_agent(db_url, "laptop")
        agent = start_agent(agent_dir, old_token, hub.url)
        seed(agent, captures("before", 30))
        wait_synced({"laptop": (agent, agent_dir)}, postgres, db_url)
        agent_id, acked_before, _, rows_before = _agent_row(postgres, db_url, "laptop")
        listed = _listed(db_url)["laptop"]
        assert listed[0] == "active" and not any(field == "last_used=-" for field in listed), listed

        # Rotation: a new token, the same agent (id, rows, acknowledged cursor); the old token ends at once.
        rotated = run_agent_cli("hub", "agent-rotate", "laptop", "--db", db_url)
        assert rotated.returncode == 0, rotated.stderr
        new_token = rotated.stdout.strip().splitlines()[-1]
        assert new_token.startswith("crmhub_") and new_token != old_token
        assert _agent_row(postgres, db_url, "laptop") == (agent_id, acked_before, 1, rows_before)
        for refused in (_push(hub.url, old_token), _pull(hub.url, old_token)):
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "agent_token_replaced"
            assert "sync set-token" in refused.json()["error"]["message"]
        # The running agent still holds the old token: its next rounds fail, nothing is lost meanwhile.
        seed(agent, captures("during", 20))
        failing = wait_until(lambda: "replaced" in (sync_health(agent)["last_error"] or "") and sync_health(agent),
                             timeout=30, message="the agent to report its replaced token")
        assert failing["pending_rows"] > 0 and failing["cursor"] == acked_before
        # The new token stored while the service runs counts from the next round, no restart.
        stored = run_agent_cli("sync", "set-token", "--token-stdin", "--data-dir", str(agent_dir),
                               stdin=new_token + "\n")
        assert stored.returncode == 0, stored.stderr
        wait_synced({"laptop": (agent, agent_dir)}, postgres, db_url)
        after_id, acked_after, _, rows_after = _agent_row(postgres, db_url, "laptop")
        assert after_id == agent_id and acked_after > acked_before and rows_after > rows_before
        assert_no_missing_or_duplicated(postgres, db_url, {"laptop": agent_dir})
        assert _push(hub.url, new_token).status_code == 200

        # Revocation: from the very next request, with a reason the agent's status shows; its rows stay.
        revoked = run_agent_cli("hub", "agent-revoke", "laptop", "--db", db_url)
        assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
        for refused in (_push(hub.url, new_token), _pull(hub.url, new_token)):
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "agent_revoked"
        seed(agent, captures("after", 5))
        wait_until(lambda: "revoked" in (sync_health(agent)["last_error"] or ""), timeout=30,
                   message="the agent to report its revocation")
        assert _agent_row(postgres, db_url, "laptop") == (agent_id, acked_after, 0, rows_after)
        assert _listed(db_url)["laptop"][0].startswith("revoked ")
        assert run_agent_cli("hub", "agent-revoke", "laptop", "--db", db_url).stdout.strip().endswith("already revoked")
        assert hub.get("/api/sync/status").json()["agents"] == 0  # the hub counts active agents only
    finally:
        if agent is not None:
            agent.stop()
        hub.stop()
    for command in ("agent-revoke", "agent-rotate"):
        unknown = run_agent_cli("hub", command, "nobody", "--db", db_url)
        assert unknown.returncode == 1 and "no agent named 'nobody'" in unknown.stderr


def test_token_states_and_last_use_on_sqlite(tmp_path):
    """The same functions on SQLite (a hub can run on it: `serve --hub` without --db)."""
    clock = FakeClock()
    db = Database(sqlite_url(tmp_path / "hub.db"))
    try:
        migrate(db, iso(clock.now()))
        first = add_agent_row(db, "a", iso(clock.now()))
        agent_id = check_token(db, first, clock.now()).agent_id
        assert check_token(db, first, clock.now()).state == "ok" and agent_id is not None
        seen = list_agents(db)[0]["last_seen_at"]
        assert seen == iso(clock.now())
        clock.advance(30)
        check_token(db, first, clock.now())
        assert list_agents(db)[0]["last_seen_at"] == seen  # written at most once a minute
        clock.advance(31)
        check_token(db, first, clock.now())
        assert list_agents(db)[0]["last_seen_at"] == iso(clock.now())
        second = rotate_agent(db, "a", iso(clock.now()))
        assert check_token(db, first, clock.now()).state == "replaced"
        assert check_token(db, second, clock.now()).agent_id == agent_id
        assert revoke_agent(db, "a", iso(clock.now())) is True and revoke_agent(db, "a", iso(clock.now())) is False
        assert check_token(db, second, clock.now()).state == "revoked"
        third = rotate_agent(db, "a", iso(clock.now()))  # the way back from a revocation: a new token
        assert check_token(db, third, clock.now()).state == "ok" and check_token(db, second, clock.now()).state == \
            "replaced"
        assert check_token(db, "crmhub_unknown", clock.now()).state == "unknown"
        assert check_token(db, "not-even-a-hub-token", clock.now()).state == "unknown"
    finally:
        db.close()
