"""What each process imports: heavy libraries load only where they are used (idle RSS, issue 17)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import ROOT

HEAVY = ("alembic", "mako", "pygments", "matplotlib", "numpy", "pandas", "llama_cpp")


def modules_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter holds after running code."""
    probe = code + "\nimport sys, json; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    shown = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(shown.stdout.strip().splitlines()[-1]))


def test_the_service_imports_no_heavy_library_it_does_not_use():
    """The service opens the database through dataset, which imports alembic (and mako, pygments: 11 MB) for
    schema changes the service never makes; and it draws nothing (no matplotlib, numpy)."""
    loaded = modules_after("import runtime.serve, storage.database")
    assert "dataset" in loaded and "sqlalchemy" in loaded
    assert not loaded & set(HEAVY)


def test_dataset_schema_changes_still_work_and_load_alembic_then(tmp_path):
    """A tool that does use dataset's schema helpers gets the real alembic, loaded at that moment."""
    code = f"""
import sys
from storage.database import dataset
assert "alembic" not in sys.modules
db = dataset.connect("sqlite:///{tmp_path / 'tool.db'}")
table = db["notes"]
table.insert({{"title": "a"}})
table.create_column("body", db.types.text)
assert "alembic" in sys.modules and type(db.op).__module__.startswith("alembic.")
print(sorted(table.columns))
"""
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "['body', 'id', 'title']"
