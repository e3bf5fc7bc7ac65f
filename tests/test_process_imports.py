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


DESKTOP_NETWORK_PROBE = """
import json, sys, threading, time
from desktop.event_stream import EventStream
from desktop.service_client import ServiceClient, http_get_json
url, token_file = {url!r}, {token_file!r}
client = ServiceClient(lambda: url, __import__("pathlib").Path(token_file))
got = threading.Event()
stream = EventStream(lambda: url, client.token, lambda e: e.get("type") == "capture.state" and got.set(),
                     lambda up: None)
stream.start()
for paused in (True, False) * 50:  # until the stream (connected, subscribed) has seen one
    assert client.request("POST", "/api/system/capture", {{"paused": paused}}).status == 200
    if got.wait(0.2):
        break
health = http_get_json(url + "/api/health")
assert got.is_set() and stream.connects >= 1 and health is not None, (got.is_set(), stream.connects, health)
stream.stop()
"""


def test_the_desktop_processes_talk_to_the_service_without_ssl(service):
    """The tray and the windows reach the service on 127.0.0.1 over plain HTTP and WebSocket: a health check, an
    authenticated request and an event through the stream load no ssl (~6 MB), nor http.client, urllib.request or
    websocket-client, which import it."""
    code = DESKTOP_NETWORK_PROBE.format(url=service.url, token_file=str(service.data_dir / "local_token"))
    loaded = modules_after(code)
    assert {"desktop", "json", "socket"} <= loaded
    assert not loaded & {"ssl", "_ssl", "websocket", "requests", "urllib3"}
    assert submodules_after(code, ("http.client", "urllib.request")) == set()


def test_the_tray_modules_load_no_ssl():
    """All the tray imports at start (but pystray's X11 backend, which needs a display): no ssl."""
    code = ("import tray.app, tray.supervisor, tray.notifications, desktop.instance, desktop.service_client, "
            "desktop.event_stream, desktop.autostart\nfrom core.config import load_config\nload_config(None)")
    assert not modules_after(code) & {"ssl", "_ssl", "websocket", "requests", "urllib3"}


UI_PROBE = """
import json, sys
from tests.ui_helpers import UiHarness
CHARTS = ("matplotlib", "numpy", "PIL")
def chart_modules():
    return sorted({{m.split(".")[0] for m in sys.modules}} & set(CHARTS))
from pathlib import Path
ui = UiHarness(Path({data_dir!r}), {display!r})
ui.pump(lambda: ui.app.link.connected, message="the event stream")
seen = {{"started": chart_modules()}}
WINDOW_MODULES = ("windows.settings", "windows.logs", "windows.connect", "windows.dashboard", "plistlib")
seen["window modules at start"] = sorted(m for m in WINDOW_MODULES if m in sys.modules)
for name in ("settings", "logs", "connect"):
    window = ui.app.open(name)
    ui.pump(timeout=1.5)  # its first answers from the service, drawn
    seen[name] = chart_modules()
dashboard = ui.app.open("dashboard")
ui.pump(lambda: dashboard.first_render_ms is not None, message="the dashboard's first render")
seen["dashboard"] = chart_modules()
ui.close()
print(json.dumps(seen))
"""


def test_the_ui_process_loads_the_chart_libraries_only_for_the_dashboard(service, display):
    """The UI process before any window, and with the settings, logs and connect windows open, holds no matplotlib,
    numpy or PIL (~40 MB); opening the dashboard loads them (its charts). Each window's module loads when that
    window first opens (a dashboard-only process does not hold the settings' forms), and autostart's plistlib
    (macOS) not at all."""
    code = UI_PROBE.format(data_dir=str(service.data_dir), display=display)
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    seen = json.loads(shown.stdout.strip().splitlines()[-1])
    assert seen == {"started": [], "window modules at start": [], "settings": [], "logs": [], "connect": [],
                    "dashboard": ["PIL", "matplotlib", "numpy"]}
