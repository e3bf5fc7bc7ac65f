"""A private PostgreSQL cluster for the tests: initdb into a temporary directory, listen on a unix socket only.

PostgreSQL refuses to run as root, and CI runs as root: then the cluster runs as the `postgres` system user
(created by Debian's package) through runuser. The socket directory is short (/tmp/crm-pg-*) because a
unix socket path may not exceed 107 bytes. No TCP port is opened, so parallel runs cannot collide.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg2

PORT = 5432  # only names the socket file (.s.PGSQL.5432) inside our own directory; no TCP listener


def find_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin with initdb (Debian), else initdb on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL is not installed (scripts/system-packages.sh --test installs it)")


def _as_cluster_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@dataclass
class PostgresCluster:
    root: Path
    bin_dir: Path

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def start(self) -> PostgresCluster:
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        subprocess.run(_as_cluster_user([str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                                         "-A", "trust", "-E", "UTF8", "--no-sync"]),
                       check=True, capture_output=True, text=True)
        options = (f"-c listen_addresses='' -c unix_socket_directories='{self.socket_dir}' -p {PORT} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        subprocess.run(_as_cluster_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-o", options,
                                         "-l", str(self.root / "server.log"), "-w", "-t", "60", "start"]),
                       check=True, capture_output=True, text=True)
        return self

    def stop(self) -> None:
        subprocess.run(_as_cluster_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast",
                                         "-w", "stop"]), capture_output=True, text=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={PORT}"

    def connect(self, database: str = "postgres"):
        return psycopg2.connect(dbname=database, user="postgres", host=str(self.socket_dir), port=PORT)

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy/dataset URL."""
        conn = self.connect()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)


def start_cluster() -> PostgresCluster:
    root = Path(tempfile.mkdtemp(prefix="crm-pg-"))
    os.chmod(root, 0o755)
    return PostgresCluster(root, find_bin_dir()).start()
