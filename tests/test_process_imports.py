"""What each process imports: heavy libraries load only where they are used (idle RSS, issue 17)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import ROOT

HEAVY = ("sqlalchemy", "dataset", "alembic", "mako", "pygments", "matplotlib", "numpy", "pandas", "llama_cpp")


def modules_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter holds after running code."""
    probe = code + "\nimport sys, json; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    shown = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(shown.stdout.strip().splitlines()[-1]))


def test_the_service_imports_no_heavy_library_it_does_not_use(tmp_path):
    """The service opens its SQLite file with the sqlite3 module (SQLAlchemy and dataset only handed over the same
    connection: ~30 MB), and draws nothing (no matplotlib, numpy)."""
    loaded = modules_after(f"""
import runtime.serve
from storage.database import Database
db = Database("sqlite:///{tmp_path / 'service.db'}")
assert db.scalar("SELECT 1") == 1 and db.synchronous == "full"
db.close()
""")
    assert "sqlite3" in loaded
    assert not loaded & set(HEAVY)


def test_dataset_opens_on_demand_for_tools_and_loads_alembic_only_for_schema_changes(tmp_path):
    """A tool that asks for the dataset handle gets one on the same file; alembic loads when it changes a table."""
    code = f"""
import sys
from storage.database import Database
db = Database("sqlite:///{tmp_path / 'tool.db'}")
db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT)")
handle = db.dataset
assert "sqlalchemy" in sys.modules and "alembic" not in sys.modules
table = handle["notes"]
table.insert({{"title": "a"}})
table.create_column("body", handle.types.text)
assert "alembic" in sys.modules and type(handle.op).__module__.startswith("alembic.")
print(sorted(table.columns), db.scalar("SELECT count(*) FROM notes"))
db.close()
"""
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "['body', 'id', 'title'] 1"


def test_unusual_sqlite_urls_still_open_through_dataset(tmp_path):
    from storage.database import Database, plain_sqlite_file

    assert plain_sqlite_file(f"sqlite:///{tmp_path}/a.db") == f"{tmp_path}/a.db"
    assert plain_sqlite_file("sqlite://") == ":memory:"
    assert plain_sqlite_file(f"sqlite:///{tmp_path}/a.db?timeout=3") is None
    assert plain_sqlite_file("postgresql://u@h/db") is None
    db = Database(f"sqlite:///{tmp_path}/b.db?timeout=3")
    try:
        assert db.is_sqlite and db.scalar("PRAGMA foreign_keys") == 1
    finally:
        db.close()


def submodules_after(code: str, prefixes: tuple[str, ...]) -> set[str]:
    probe = code + f"\nimport sys, json; print(json.dumps([m for m in sys.modules if m.startswith({prefixes!r})]))"
    shown = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(shown.stdout.strip().splitlines()[-1]))


def test_the_tray_modules_load_no_psutil_and_no_babel_formats():
    """What the tray imports (all but pystray's X11 backend, which needs a display) and its configuration: psutil
    and Babel's date and number formats load only in processes that use them."""
    code = ("import tray.app, tray.supervisor, tray.notifications, desktop.instance, desktop.service_client\n"
            "from core.config import load_config\nfrom core.i18n import translator_for\n"
            "load_config(None); translator_for('pt_BR')._('Quit')")
    assert submodules_after(code, ("psutil", "babel.dates", "babel.numbers")) == set()


def test_a_translator_still_formats_dates_and_numbers_when_asked():
    from datetime import date

    from core.i18n import Translator

    pt = Translator("pt_BR")
    assert pt.decimal(1234.5) == "1.234,50" and pt.date(date(2026, 3, 1)) == "01/03/2026"
