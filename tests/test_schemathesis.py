"""Property-based API testing: schemathesis generates requests from /api/openapi.json; none may get a 5xx."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import message


def test_no_server_errors_for_generated_requests(service):
    # Some data so that reads of existing rows are exercised too.
    for i in range(5):
        service.post("/api/messages/capture", json=message(content=f"pedido {i} atrasado"))
    st = shutil.which("st") or str(Path(sys.executable).with_name("st"))
    result = subprocess.run(
        [st, "run", f"{service.url}/api/openapi.json", "-H", f"Authorization: Bearer {service.local_token}",
         "--checks", "not_a_server_error", "--phases", "examples,coverage,fuzzing", "--max-examples", "30",
         "--generation-deterministic", "--request-timeout", "20",
         # A hub's agent endpoints (push, profiles, knowledge, off-site backups) take a hub agent token, not a user's:
         # tests/test_sync.py and tests/test_offsite_backup.py exercise them on a hub.
         # Pairing needs a browser extension's Origin, /api/extension/* a paired extension's token and Origin:
         # the local token meets only 403 there (tests/test_pairing.py covers them).
         "--exclude-path-regex",
         "^/api/(sync/(push|profiles|knowledge|backups.*)|pair/(start|complete)|extension/.+)$"],
        capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "No issues found" in output, output[-5000:]
    assert service.get("/api/health").status_code == 200
