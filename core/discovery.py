"""Service discovery: the one module that writes, reads and removes `service.json` in the data directory.

The running service writes {"pid", "port", "url"} once it is bound (readable only by the user, like the
local token beside it) and removes it on a clean stop. Clients (tray, windows, `agent.py pair|restore`)
read it to find the port; a service killed before it could clean up leaves a stale file, which
`forget_if_dead` removes for the supervisor that knew the child.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from core.paths import DataDir
from core.secrets_store import write_private_file

LOCAL_HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServiceInfo:
    pid: int
    port: int

    @property
    def url(self) -> str:
        """Clients always reach the service on loopback, whatever address it is bound to."""
        return f"http://{LOCAL_HOST}:{self.port}"


def write_service_info(data_dir: DataDir, port: int, pid: int | None = None) -> ServiceInfo:
    info = ServiceInfo(pid=os.getpid() if pid is None else pid, port=port)
    payload = {"pid": info.pid, "port": info.port, "url": info.url}
    write_private_file(data_dir.service_info_file, json.dumps(payload) + "\n")
    return info


def read_service_info(data_dir: DataDir) -> ServiceInfo | None:
    """The running service's pid and port, or None when there is no file or it is unreadable or malformed."""
    try:
        raw = json.loads(data_dir.service_info_file.read_text(encoding="utf-8"))
        pid, port = raw["pid"], raw["port"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(pid, int) and isinstance(port, int) and pid > 0 and 0 < port < 65536):
        return None
    return ServiceInfo(pid=pid, port=port)


def read_service_url(data_dir: DataDir) -> str | None:
    info = read_service_info(data_dir)
    return info.url if info is not None else None


def remove_service_info(data_dir: DataDir, pid: int | None = None) -> None:
    """Remove service.json; with pid, only when the file still names that process (a newer one may own it)."""
    if pid is not None:
        info = read_service_info(data_dir)
        if info is not None and info.pid != pid:
            return
    data_dir.service_info_file.unlink(missing_ok=True)
