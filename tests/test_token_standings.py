"""storage.users.TokenStandings: the per-request "is this token still good" lookup, remembered while the database
is unchanged (issue 17), and exact all the same: any write, in this process or another, is seen at once."""

from __future__ import annotations

from storage import users as user_rows
from storage.database import Database, sqlite_url
from storage.migrations import migrate

NOW = "2026-12-07T00:00:00+00:00"


def _database(path) -> Database:
    db = Database(sqlite_url(path))
    migrate(db, NOW)
    return db


def _add_ana(db: Database) -> None:
    with db.transaction():
        user_rows.insert_user(db, "ana", "hash", "agent", NOW)


def _statements(db: Database, lookup) -> list[str]:
    seen: list[str] = []
    db.trace(seen.append)
    try:
        lookup()
    finally:
        db.trace(None)
    return seen


def test_an_unchanged_database_answers_from_memory(tmp_path):
    db = _database(tmp_path / "a.db")
    _add_ana(db)
    standings = user_rows.TokenStandings(db)
    first = standings("ana", "jti-1")
    assert first == user_rows.TokenStanding("agent", 0, False)
    again = _statements(db, lambda: standings("ana", "jti-1"))
    assert again == ["PRAGMA data_version"]  # no lookup of users or revoked_tokens


def test_a_revocation_written_here_or_by_another_process_holds_at_the_next_lookup(tmp_path):
    db = _database(tmp_path / "a.db")
    _add_ana(db)
    standings = user_rows.TokenStandings(db)
    assert standings("ana", "jti-1").revoked is False
    with db.transaction():  # a logout, on this connection
        user_rows.revoke_token(db, "jti-1", expires_at=2_000_000_000, now=1_700_000_000)
    assert standings("ana", "jti-1").revoked is True  # seen at once: this connection changed rows
    assert standings("ana", "jti-2") == user_rows.TokenStanding("agent", 0, False)
    other = Database(sqlite_url(tmp_path / "a.db"))  # the CLI: another connection, another process
    try:
        with other.transaction():
            assert user_rows.bump_token_version(other, "ana", NOW)
        assert standings("ana", "jti-2").token_version == 1
        with other.transaction():
            assert user_rows.set_active(other, "ana", False, NOW)
        assert standings("ana", "jti-2") is None
    finally:
        other.close()


def test_a_flood_of_distinct_tokens_keeps_memory_bounded(tmp_path):
    db = _database(tmp_path / "a.db")
    _add_ana(db)
    standings = user_rows.TokenStandings(db, capacity=100)
    for i in range(1000):
        standings("ana", f"forged-{i}")
    assert len(standings) == 100
    assert _statements(db, lambda: standings("ana", "forged-999")) == ["PRAGMA data_version"]  # the newest kept
