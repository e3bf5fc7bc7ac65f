"""The per-request token check (crm/access.py TokenService.authenticate): signature from the verified-token cache,
then one statement on the users table (role, token version, logged-out jti), against a real SQLite file with
1,000 users and 10,000 logged-out token ids.

    python bench/token_check.py        prints microseconds per authenticate() (median of 5 runs of 20,000)

Target: well under the ~15 us an HS256 verification costs, which the cache saves (docs/decisions.md "Tokens").
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.clock import Clock, iso  # noqa: E402
from crm.access import TokenService  # noqa: E402
from storage import users as user_rows  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.migrations import migrate  # noqa: E402

CALLS = 20_000


def main() -> None:
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        migrate(db, iso(clock.now()))
        now = iso(clock.now())
        with db.transaction():
            for i in range(1000):
                user_rows.insert_user(db, f"user{i}", "not-a-hash", "agent", now)
            for i in range(10_000):
                user_rows.revoke_token(db, f"jti-{i}", int(time.time()) + 3600, int(time.time()))
        tokens = TokenService("ab" * 32, 3600, "local", clock,
                              standing=lambda name, jti: user_rows.token_standing(db, name, jti))
        token = tokens.issue("user500", "agent", 0)
        tokens.authenticate(token)  # verified once: later calls take the cache
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(CALLS):
                tokens.authenticate(token)
            runs.append((time.perf_counter() - started) / CALLS * 1e6)
        db.close()
    print(f"authenticate (cached signature + users/revoked_tokens lookup): {statistics.median(runs):.1f} us/call "
          f"(runs: {', '.join(f'{r:.1f}' for r in runs)})")


if __name__ == "__main__":
    main()
