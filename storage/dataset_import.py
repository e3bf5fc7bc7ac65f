"""`import dataset` without alembic: dataset imports alembic (and through it mako and pygments) at import time,
for its schema changes (Table.create_column and the like, through Database.op). This project only opens the engine
through dataset and runs its own SQL, so alembic is dead weight in every process that opens the database:
measured 11 MB of RSS and ~0.3 s of import time (of the service's ~0.9 s) on the 2-core dev machine.

While dataset is imported, stand-ins answer for the two names it takes from alembic; they are removed from
sys.modules right after, so a later `import alembic` loads the real one. A stand-in that is actually used (a tool
calling dataset's schema helpers) imports the real alembic then and hands over to it.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

STAND_IN_MODULES = ("alembic", "alembic.migration", "alembic.operations")


class _MigrationContext:
    """Stands for alembic.migration.MigrationContext in dataset.database."""

    @staticmethod
    def configure(*args: Any, **kwargs: Any) -> Any:
        real = importlib.import_module("alembic.migration").MigrationContext
        return real.configure(*args, **kwargs)


class _Operations:
    """Stands for alembic.operations.Operations in dataset.database: constructing it builds the real one."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return importlib.import_module("alembic.operations").Operations(*args, **kwargs)


def import_dataset() -> types.ModuleType:
    """The dataset package, imported without loading alembic (unless something loaded it already)."""
    if "dataset" in sys.modules or "alembic" in sys.modules:
        return importlib.import_module("dataset")
    stand_ins = {name: types.ModuleType(name) for name in STAND_IN_MODULES}
    stand_ins["alembic"].__path__ = []  # a package, so `alembic.migration` resolves to the stand-in below
    stand_ins["alembic.migration"].MigrationContext = _MigrationContext  # type: ignore[attr-defined]
    stand_ins["alembic.operations"].Operations = _Operations  # type: ignore[attr-defined]
    sys.modules.update(stand_ins)
    try:
        return importlib.import_module("dataset")
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
