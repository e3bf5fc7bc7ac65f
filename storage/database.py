"""One database connection per process, with explicit transactions.

A plain SQLite file is opened with the sqlite3 module; PostgreSQL (the hub) and unusual SQLite URLs through
dataset, which gives us the engine (issue 17: SQLAlchemy only handed over the same sqlite3 connection). The
service then runs every statement on one DBAPI connection: dataset keeps a connection per thread id,
which under gevent would mean one per greenlet, and its table helpers reflect the schema on each call,
which costs more than the statement itself on the capture path (see docs/decisions.md).

SQL is written once with :named parameters; for PostgreSQL it is rewritten to %(named)s.
All writes happen inside `transaction()`. On SQLite the service never yields to another greenlet inside one
(SQLite calls do not yield), so one connection is shared safely by every request. On PostgreSQL (a hub) the
driver yields while it waits for the server (runtime/green_postgres.py), so each transaction, and each
statement outside one, borrows a connection of its own from the engine's pool: N pushes run at once.
"""

from __future__ import annotations

import errno
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.dataset_import import import_dataset

if TYPE_CHECKING:
    import dataset

log = logging.getLogger(__name__)

_NAMED_PARAM = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


class DatabaseUnavailable(Exception):
    """The database cannot be opened (server down, bad credentials, unreadable file): one line for the user;
    never the URL, which may hold a password."""


class DiskFull(RuntimeError):
    """A write found no room on the database's filesystem (SQLITE_FULL, ENOSPC, EDQUOT). The transaction was
    rolled back, so nothing of it is stored and what was committed before is intact: retry once space is freed."""


def is_disk_full(exc: BaseException) -> bool:
    """Whether exc (or what it was raised from) says the filesystem is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFull):
            return True
        code = getattr(current, "sqlite_errorcode", 0) if isinstance(current, sqlite3.Error) else 0
        if code & 0xFF == sqlite3.SQLITE_FULL:
            return True
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        current = current.__cause__ or current.__context__
    return False


def _raise_if_disk_full(exc: BaseException) -> None:
    if is_disk_full(exc) and not isinstance(exc, DiskFull):
        raise DiskFull(f"no space left for the database: {exc}") from exc


SYNCHRONOUS_MODES = ("full", "normal")

# The size SQLite cuts the WAL file back to when the log restarts from its beginning (after a checkpoint that
# copied every frame). Without it the file keeps its largest size forever (see WalCheckpointer).
JOURNAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024


class _Session:
    """One DBAPI connection with the state of the transaction running on it: nesting depth, change sequence."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw  # SQLAlchemy's pooled connection: close() hands it back to the pool
        self.conn = raw.driver_connection
        self.depth = 0
        self.txn_sequence: int | None = None


def plain_sqlite_file(url: str) -> str | None:
    """The file a plain sqlite:/// URL names (SQLAlchemy's spelling: sqlite:///relative, sqlite:////absolute,
    sqlite:// for memory); None for anything else (another scheme, a query string, a driver suffix)."""
    if url == "sqlite://":
        return ":memory:"
    if not url.startswith("sqlite:///") or "?" in url:
        return None
    return url.removeprefix("sqlite:///") or None


class _PlainSqlite:
    """A sqlite3 connection shaped like the SQLAlchemy pooled connection _Session expects."""

    def __init__(self, path: str, statements: Sequence[str]) -> None:
        # check_same_thread=False as SQLAlchemy's pysqlite dialect does: the one connection is shared by the
        # service's greenlets and, outside gevent, by threads that take turns under Database's lock.
        self.driver_connection = sqlite3.connect(path, check_same_thread=False)
        try:
            for statement in statements:
                self.driver_connection.execute(statement)
        except sqlite3.Error:
            self.driver_connection.close()
            raise

    def close(self) -> None:
        self.driver_connection.close()


class Database:
    def __init__(self, url: str, busy_timeout_ms: int = 5000, synchronous: str = "full", pool_size: int = 5,
                 cache_mib: int = 64) -> None:
        """pool_size: PostgreSQL connections kept open for concurrent transactions (greenlets) of this process."""
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        self.url = url
        statements = []
        engine_kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            statements = [
                f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
                # Write-ahead logging: readers never wait for the writer, a commit is one append (and one fsync)
                # to the WAL, and the checkpoints run apart (WalCheckpointer). The mode is stored in the file;
                # set on every open because a plain sqlite3 connection (unlike dataset's) does not ask for it.
                "PRAGMA journal_mode=WAL",
                # FULL in WAL mode fsyncs the WAL at every COMMIT, so a commit survives a power cut or an OS
                # crash, and the API answers only after the commit: an acknowledgement is a promise the
                # extension relies on (it deletes the message from its queue). The group commit shares that
                # fsync among the captures of a batch. NORMAL survives a process crash only.
                f"PRAGMA synchronous={synchronous.upper()}",
                f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT_BYTES}",
                "PRAGMA foreign_keys=ON",
                "PRAGMA temp_store=MEMORY",
                # A 64 MiB page cache by default (SQLite's is 2 MiB): index pages of a growing database stay in
                # memory instead of being read again on every insert. Memory is used only as pages load, so the
                # service's RSS grows with the database until this bound (bench/soak.py --cache-mib shows it).
                f"PRAGMA cache_size=-{int(cache_mib) * 1024}",
            ]
        else:
            # A request beyond pool_size waits for a free connection (pool_timeout) rather than opening more:
            # the server's max_connections is shared by every worker of every hub machine.
            engine_kwargs.update(pool_size=max(1, int(pool_size)), max_overflow=0, pool_timeout=30,
                                 pool_pre_ping=True)
        self._statements = statements
        self._engine_kwargs = engine_kwargs
        # A plain SQLite file is opened with the sqlite3 module itself: dataset and SQLAlchemy would only hand us
        # the same sqlite3 connection, for ~30 MB of RSS and ~0.3 s of imports in every process that opens the
        # database (bench/service_footprint.py). PostgreSQL (a hub) and unusual SQLite URLs go through dataset.
        self._sqlite_file = plain_sqlite_file(url)
        self._dataset: dataset.Database | None = None
        if self._sqlite_file is None:
            self._dataset = self._open_dataset()
        self.is_sqlite = self._dataset.is_sqlite if self._dataset is not None else True
        self.is_postgres = self._dataset.is_postgres if self._dataset is not None else False
        # SQLite: the one connection every greenlet shares. PostgreSQL: the connection of the transaction the
        # current greenlet (thread, without gevent) runs, if any; threading.local is per greenlet once gevent
        # has patched the process.
        self._shared: _Session | None = None
        self._local = threading.local()
        first = self._connect()
        if self.is_sqlite:
            self._shared = first
        else:
            first.raw.close()  # it proved the server reachable; back to the pool
        self._sql_cache: dict[str, str] = {}
        # SQLite only: under gevent a cooperative lock; nothing yields inside a SQLite transaction, so it never
        # waits, except while writes_held() (restore, VACUUM) holds it.
        self._lock = threading.RLock()
        # Bumped when a restore replaces the content: work started before it (an LLM follow-up holding a
        # message id) must not write into the restored database.
        self.generation = 0

    def _open_dataset(self) -> dataset.Database:
        return import_dataset().Database(self.url, on_connect_statements=self._statements,
                                         engine_kwargs=self._engine_kwargs)

    def _connect(self) -> _Session:
        try:
            if self._sqlite_file is not None:
                raw = _PlainSqlite(self._sqlite_file, self._statements)
            else:
                assert self._dataset is not None
                raw = self._dataset.engine.raw_connection()
        except Exception as exc:  # each driver has its own error classes: one clear message for all
            reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DatabaseUnavailable(f"cannot open the database: {reason}") from exc
        session = _Session(raw)
        if self.is_sqlite:
            session.conn.isolation_level = None  # we issue BEGIN/COMMIT ourselves
            session.conn.row_factory = sqlite3.Row
        elif not session.conn.autocommit:
            session.conn.autocommit = True  # we issue BEGIN/COMMIT ourselves
        return session

    @contextmanager
    def _borrowed(self) -> Iterator[_Session]:
        """A pooled PostgreSQL connection for one transaction or statement, handed back afterwards."""
        session = self._connect()
        try:
            yield session
        finally:
            session.raw.close()

    def _current(self) -> _Session | None:
        return self._shared if self.is_sqlite else getattr(self._local, "session", None)

    @property
    def _conn(self) -> Any:
        assert self._shared is not None, "SQLite only: PostgreSQL connections are borrowed per transaction"
        return self._shared.conn

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        return Path(self._conn.execute("PRAGMA database_list").fetchone()["file"])

    @property
    def synchronous(self) -> str:
        """The synchronous mode in force on this connection ("full", "normal", ...), as SQLite reports it."""
        if not self.is_sqlite:
            return "n/a"
        names = {0: "off", 1: "normal", 2: "full", 3: "extra"}
        return names[int(self.scalar("PRAGMA synchronous"))]

    def change_marker(self) -> tuple[int, int, int] | None:
        """A value that differs from the last one whenever the content may have changed in between: a restore
        (generation), a row written by this process's connection (total_changes, rolled back or not), a commit by
        any other connection, another process's included (PRAGMA data_version). None on PostgreSQL, which has no
        such cheap marker. ~4 us: what lets a cache of a per-request query stay exact (storage.users)."""
        if self._shared is None:
            return None
        conn = self._shared.conn
        return self.generation, conn.total_changes, conn.execute("PRAGMA data_version").fetchone()[0]

    def trace(self, callback: Any) -> None:
        """Call callback(sql) with every statement this connection runs (None stops): for tests and debugging."""
        if self.is_sqlite:
            self._conn.set_trace_callback(callback)

    def disable_auto_checkpoint(self) -> None:
        """Leave WAL checkpoints to a WalCheckpointer (see there); SQLite still checkpoints on close."""
        if self.is_sqlite:
            self.execute("PRAGMA wal_autocheckpoint=0")

    @property
    def dataset(self) -> dataset.Database:
        """The dataset handle, for tools and ad-hoc inspection (not used on the request path); on a plain SQLite
        file it is opened on first use (its own connection)."""
        if self._dataset is None:
            self._dataset = self._open_dataset()
        return self._dataset

    def close(self) -> None:
        try:
            if self._shared is not None:
                self._shared.raw.close()
        finally:
            if self._dataset is not None:
                self._dataset.close()

    # -- statements -------------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        if self.is_sqlite:
            return sql
        cached = self._sql_cache.get(sql)
        if cached is None:
            cached = _NAMED_PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
            self._sql_cache[sql] = cached
        return cached

    @contextmanager
    def _session_for_statement(self) -> Iterator[_Session]:
        """The current transaction's connection, or (PostgreSQL, outside a transaction) a borrowed one.

        A statement run on a borrowed connection hands it back before the caller reads the cursor: psycopg2's
        client-side cursors hold the whole result (and rowcount) once execute returns.
        """
        session = self._current()
        if session is not None:
            yield session
            return
        with self._borrowed() as session:
            yield session

    def execute(self, sql: str, params: dict[str, Any] | Sequence[Any] | None = None) -> Any:
        """Run one statement; returns the cursor (lastrowid / rowcount / fetch*)."""
        if self.is_sqlite:
            return self._conn.execute(sql, params or {})  # the C shortcut: no Python-level cursor object
        import psycopg2.extras

        with self._session_for_statement() as session:
            cur = session.conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
            cur.execute(self._sql(sql), params or {})
            return cur

    def executemany(self, sql: str, rows: list[dict[str, Any]]) -> None:
        if rows and self.is_sqlite:
            self._conn.executemany(sql, rows)
        elif rows:
            with self._session_for_statement() as session:
                session.conn.cursor().executemany(self._sql(sql), rows)

    def execute_values(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run `INSERT ... VALUES %s ...` for many rows: one statement per 1,000 rows on PostgreSQL
        (psycopg2's execute_values; executemany would send one statement per row), executemany on SQLite.
        """
        if not rows:
            return
        if self.is_postgres:
            import psycopg2.extras

            with self._session_for_statement() as session, session.conn.cursor() as cur:
                psycopg2.extras.execute_values(cur, sql, rows, page_size=1000)
            return
        placeholders = "(" + ", ".join("?" * len(rows[0])) + ")"
        self._conn.executemany(sql.replace("%s", placeholders, 1), rows)

    def insert(self, sql: str, params: dict[str, Any]) -> int:
        """Run an INSERT and return the new row's id."""
        if self.is_sqlite:
            return int(self._conn.execute(sql, params).lastrowid)
        row = self.execute(sql + " RETURNING id", params).fetchone()
        return int(row["id"])

    def one(self, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        row = self.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [dict(r) for r in self.execute(sql, params).fetchall()]

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        row = self.execute(sql, params).fetchone()
        if row is None:
            return None
        return row[0] if self.is_sqlite else next(iter(row.values()))

    def executescript(self, sql: str) -> None:
        """Run several ;-separated DDL statements (migrations)."""
        for statement in (s.strip() for s in sql.split(";")):
            if statement:
                self.execute(statement)

    # -- transactions and the change sequence -----------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error. Nested calls join the outer transaction."""
        if self.is_sqlite:
            with self._lock:
                if self._shared.depth:
                    yield from self._join(self._shared)
                else:
                    yield from self._run_transaction(self._shared)
            return
        current = self._current()
        if current is not None:
            yield from self._join(current)
            return
        # PostgreSQL: a connection of this greenlet's own for the whole transaction; other greenlets' run at
        # the same time on theirs (row locks and the change_sequence row order what must be ordered).
        with self._borrowed() as session:
            self._local.session = session
            try:
                yield from self._run_transaction(session)
            finally:
                self._local.session = None

    def _join(self, session: _Session) -> Iterator[Database]:
        session.depth += 1
        try:
            yield self
        finally:
            session.depth -= 1

    def _run_transaction(self, session: _Session) -> Iterator[Database]:
        session.txn_sequence = None
        self.execute("BEGIN IMMEDIATE" if self.is_sqlite else "BEGIN")
        session.depth = 1
        try:
            yield self
        except BaseException as exc:
            session.depth = 0
            # Quietly: after SQLITE_FULL SQLite may have rolled back already, and the cause matters more.
            self._rollback_quietly()
            _raise_if_disk_full(exc)
            raise
        session.depth = 0
        try:
            self.execute("COMMIT")
        except BaseException as exc:
            self._rollback_quietly()
            _raise_if_disk_full(exc)
            raise

    @contextmanager
    def writes_held(self) -> Iterator[None]:
        """Hold back this connection's transactions (they wait on the lock) while another connection
        rewrites the file (restore, VACUUM). Transactions of this greenlet still run (the lock is reentrant)."""
        with self._lock:
            assert not self.in_transaction, "writes are held outside a transaction"
            yield

    def _rollback_quietly(self) -> None:
        try:
            self.execute("ROLLBACK")
        except Exception as exc:  # noqa: BLE001 - the original error matters more
            log.debug("rollback after failed commit also failed: %s", exc)

    @property
    def in_transaction(self) -> bool:
        current = self._current()
        return current is not None and current.depth > 0

    def next_sequence(self) -> int:
        """The change sequence number of the current transaction: every row it writes carries it.

        Taken from the change_sequence row inside the write transaction, so numbers only grow and follow
        commit order even when several processes (service, CLI) write to the same file. On PostgreSQL the
        UPDATE holds that row's lock until COMMIT: transactions that take a number commit one after another.
        """
        session = self._current()
        assert session is not None and session.depth, "change sequence numbers are only handed out in a transaction"
        if session.txn_sequence is None:
            row = self.execute("UPDATE change_sequence SET value = value + 1 WHERE id = 1 RETURNING value").fetchone()
            session.txn_sequence = int(row["value"])
        return session.txn_sequence

    @property
    def sequence(self) -> int:
        """The highest change sequence number handed out so far."""
        return int(self.scalar("SELECT value FROM change_sequence WHERE id = 1") or 0)


class WalCheckpointer:
    """Checkpoints the WAL on a connection of its own, meant to run on a worker thread.

    The service turns SQLite's automatic checkpoint off: run inside COMMIT on the event loop, it made one
    commit in ~40 take 2-9 ms. A PASSIVE checkpoint never blocks writers, and sqlite3 releases the GIL
    while it copies pages.

    A PASSIVE checkpoint alone does not bound the WAL: SQLite writes from the start of the file again only
    when a write transaction begins after a checkpoint copied *every* frame, and under a steady capture load
    the event loop commits while the worker thread copies, so the copy always ends a few frames behind and
    the file grew by every commit (~85 KB per capture). `truncate()` finishes the job while the caller holds
    the service's writes back (see runtime/jobs.py checkpoint_wal).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def checkpoint(self) -> tuple[int, int, int]:
        """(busy, WAL pages, pages checkpointed), as PRAGMA wal_checkpoint reports them."""
        return self._run("PASSIVE")

    def truncate(self) -> tuple[int, int, int]:
        """Copy every remaining frame and cut the WAL file to zero bytes. Meant for a moment when no write
        runs: it never waits (busy=1 when a writer or a reader of an older snapshot is in the way)."""
        return self._run("TRUNCATE")

    def wal_bytes(self) -> int:
        """The WAL file's size now (0 when there is none)."""
        try:
            return self.path.with_name(self.path.name + "-wal").stat().st_size
        except FileNotFoundError:
            return 0

    def _run(self, mode: str) -> tuple[int, int, int]:
        if self._conn is None:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=0)
        try:
            return tuple(self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone())
        except sqlite3.Error as exc:
            _raise_if_disk_full(exc)  # the WAL keeps the pages; the next round copies them once there is room
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Where:
    """A WHERE clause built from optional filters: a filter whose values are all None or "" is left out."""

    def __init__(self, **params: Any) -> None:
        self.clauses: list[str] = []
        self.params: dict[str, Any] = dict(params)

    def add(self, clause: str, **values: Any) -> Where:
        if values and all(v is not None and v != "" for v in values.values()):
            self.clauses.append(clause)
            self.params.update(values)
        return self

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) or "1=1"


def like_contains(text: str) -> str:
    """A LIKE pattern matching text anywhere, with % and _ in text taken literally (use ESCAPE '\\')."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class DatabaseDamaged(DatabaseUnavailable):
    """The SQLite file is damaged or not a database: the message is the one line the user sees."""


def sqlite_file_problem(path: Path) -> str | None:
    """What is wrong with the SQLite file at path (truncated, a garbage page, not a database), or None when
    PRAGMA quick_check passes or there is no file yet. Call it before anything writes to the file, under the
    service lock, so a damaged file is never taken for a new, empty database. Opened read-write (mode=rw never
    creates a file) so that a WAL left by a crash is recovered as usual; nothing is written by the check.

    quick_check rather than integrity_check: it reads every page and checks every b-tree, which is what a
    truncated or overwritten file breaks, and skips only the cross-check of indexes against their tables,
    which costs several times more at each start (see docs/decisions.md).
    """
    if not path.exists():
        return None
    if path.is_file() and path.stat().st_size == 0:
        wal = path.with_name(path.name + "-wal")
        return None if wal.exists() and wal.stat().st_size > 0 else "the file is empty"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        result = [row[0] for row in conn.execute("PRAGMA quick_check(3)").fetchall()]
    except sqlite3.Error as exc:  # "file is not a database", "database disk image is malformed"
        return str(exc)
    finally:
        conn.close()
    if result == ["ok"]:
        return None
    # One line: quick_check's rows may hold several lines and a "*** in database main ***" heading.
    lines = [line.strip() for row in result for line in str(row).splitlines()]
    return "; ".join(line for line in lines if line and not line.startswith("***"))


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def database_url(setting: str, default_file: Path) -> str:
    """The URL the database.path setting names: a URL as it is, a file path as SQLite, empty for default_file."""
    if setting.startswith(("sqlite:", "postgresql:", "postgres:")):
        return setting
    return sqlite_url(default_file if not setting else Path(setting).expanduser())
