"""The UI process's plumbing, with a minimal window: calls off the Tk thread, events, the service-down
banner, debouncing, geometry memory, one UI process per data directory."""

from __future__ import annotations

import functools
import itertools
import os
import subprocess
import sys
import threading
import time
import weakref
from tkinter import ttk

import pytest

from core.i18n import Translator
from desktop.service_client import ServiceUnavailable
from tests.helpers import ROOT, start_service
from tests.ui_helpers import UiHarness
from windows.base import BaseWindow
from windows.calls import BackgroundCalls, Debouncer, UiQueue
from windows.errors import ApiError, describe_error, error_field
from windows.host import WindowHost


class ProbeWindow(BaseWindow):
    name = "probe"
    title = "Probe"

    def build(self, parent: ttk.Frame) -> None:
        self.health_label = ttk.Label(parent, text="…")
        self.health_label.pack()
        self.events: list[dict] = []
        self.call_threads: list[str] = []

    def refresh(self) -> None:
        def work():
            self.call_threads.append(threading.current_thread().name)
            return self.link.request("GET", "/api/health")

        self.link.run(work, lambda health: self.health_label.configure(text=health["status"]), self.on_error)

    def on_event(self, event: dict) -> None:
        self.events.append(event)


@pytest.fixture
def harness(display, tmp_path):
    running = start_service(tmp_path / "agent")
    ui = UiHarness(running.data_dir, display)
    ui.app._classes["probe"] = ProbeWindow
    yield ui, running
    ui.close()
    running.stop()


def test_calls_run_off_the_tk_thread_and_events_arrive(harness):
    ui, service = harness
    window = ui.app.open("probe")
    ui.pump(lambda: window.health_label.cget("text") == "ok", message="health shown")
    assert window.call_threads and all(name.startswith("ui-call") for name in window.call_threads)
    ui.pump(lambda: ui.app.link.connected, message="event stream connected")
    r = service.session.post(service.url + "/api/system/capture", json={"paused": True},
                             headers={"Authorization": f"Bearer {service.token()}"})
    assert r.status_code == 200, r.text
    ui.pump(lambda: any(e.get("type") == "capture.state" for e in window.events), message="capture.state event")
    assert not window.banner.visible


def test_banner_when_the_service_stops_and_refresh_when_it_returns(harness):
    ui, service = harness
    window = ui.app.open("probe")
    ui.pump(lambda: ui.app.link.connected, message="connected")
    service.stop()
    ui.pump(lambda: window.banner.visible, timeout=30, message="the service-down banner")
    assert "not running" in window.banner.message.cget("text")
    assert window.banner.winfo_ismapped()


def test_geometry_is_remembered(harness):
    ui, _service = harness
    window = ui.app.open("probe")
    window.top.geometry("700x500+40+30")
    ui.pump(lambda: window.top.winfo_width() == 700, message="resize")
    window.close()
    assert "probe" not in ui.app.windows
    again = ui.app.open("probe")
    ui.pump(lambda: again.top.winfo_width() == 700 and again.top.winfo_height() == 500, message="same size again")


def test_debouncer_runs_at_most_twice_a_second(harness):
    ui, _service = harness
    runs: list[float] = []
    debouncer = Debouncer(ui.root, lambda: runs.append(time.monotonic()), min_interval_ms=500)
    end = time.monotonic() + 1.6
    while time.monotonic() < end:
        debouncer.trigger()
        ui.pump(timeout=0.01)
    ui.pump(timeout=0.6)
    assert 3 <= len(runs) <= 5, runs  # 0, 0.5, 1.0, 1.5 (+ the trailing one)
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert min(gaps) >= 0.45, gaps


def test_no_display_is_said_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, str(ROOT / "agent.py"), "ui", "logs", "--data-dir", str(tmp_path / "d")],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "no display" in out.stderr


def _menu_index(menu, label: str) -> int:
    for index in range(menu.index("end") + 1):
        if menu.type(index) != "separator" and menu.entrycget(index, "label") == label:
            return index
    raise AssertionError(f"no menu entry {label!r}")


def test_the_agent_menu_offers_the_tray_actions(harness, tmp_path, monkeypatch):
    ui, service = harness
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    window = ui.app.open("probe")
    from desktop.autostart import XdgAutostart

    window.menu.startup = XdgAutostart()
    agent_menu = window.menu.agent
    auth = {"Authorization": f"Bearer {service.token()}"}

    agent_menu.invoke(_menu_index(agent_menu, "Pause capture"))
    ui.pump(lambda: "Capture paused" in window.status.cget("text"), message="pause confirmed")
    assert service.session.get(service.url + "/api/health").json()["capture"]["paused"] is True
    agent_menu.invoke(_menu_index(agent_menu, "Pause capture"))
    ui.pump(lambda: "Capture resumed" in window.status.cget("text"), message="resume confirmed")
    assert service.session.get(service.url + "/api/health").json()["capture"]["paused"] is False

    before = len(service.session.get(service.url + "/api/system/backups", headers=auth).json()["items"])
    agent_menu.invoke(_menu_index(agent_menu, "Back up now"))
    ui.pump(lambda: "Backup done" in window.status.cget("text"), timeout=60, message="backup done")
    after = service.session.get(service.url + "/api/system/backups", headers=auth).json()["items"]
    assert len(after) == before + 1
    assert after[0]["path"] in window.status.cget("text")

    desktop_file = tmp_path / "xdg" / "autostart" / "crm-agent.desktop"
    agent_menu.invoke(_menu_index(agent_menu, "Start on login"))
    assert desktop_file.exists() and "Exec=" in desktop_file.read_text()
    agent_menu.invoke(_menu_index(agent_menu, "Start on login"))
    assert not desktop_file.exists()


def test_the_pause_checkbox_follows_the_service(harness):
    ui, service = harness
    window = ui.app.open("probe")
    ui.pump(lambda: ui.app.link.connected, message="connected")
    r = service.session.post(service.url + "/api/system/capture", json={"paused": True},
                             headers={"Authorization": f"Bearer {service.token()}"})
    assert r.status_code == 200
    ui.pump(lambda: window.menu.capture_paused.get() is True, message="checkbox follows the event")


def test_api_errors_carry_the_services_sentence(harness):
    ui, _service = harness
    with pytest.raises(ApiError) as missing:
        ui.app.link.request("GET", "/api/messages/999999")
    assert missing.value.status == 404 and missing.value.code
    assert "{" not in missing.value.message and missing.value.message != "HTTP 404"
    with pytest.raises(ApiError) as invalid:
        ui.app.link.request("PATCH", "/api/customers/+5511999990000", {"email": "not an email"})
    assert invalid.value.status in (404, 422)
    assert "{" not in invalid.value.message


def test_the_windows_see_the_app_through_the_window_host_protocol(harness):
    ui, _service = harness
    assert isinstance(ui.app, WindowHost)
    window = ui.app.open("probe")
    assert window.app is ui.app and window.menu.app is ui.app


def test_a_failed_call_reads_as_one_line_for_the_user():
    en = Translator("en")
    validation = ApiError(422, {"error": {"code": "validation_error", "message": "invalid request",
                                          "field": "custom_fields.size",
                                          "details": [{"field": "email", "message": "not an email"},
                                                      {"field": "tags", "message": "too many"}]}})
    assert describe_error(validation, en) == "email: not an email; tags: too many"
    assert error_field(validation) == "custom_fields"
    assert describe_error(ApiError(404, {"error": {"code": "not_found", "message": "no such message"}}), en) == \
        "no such message"
    assert describe_error(ApiError(502, "<html>bad gateway</html>"), en) == "HTTP 502"
    assert describe_error(ServiceUnavailable("connection refused"), en) == "the service is not running"
    assert describe_error(TimeoutError(), en) == "TimeoutError"
    assert error_field(ApiError(400, {"error": {"message": "bad"}})) is None
    assert error_field(ValueError("x")) is None


def test_only_the_dashboard_pays_for_matplotlib():
    """windows/app.py imports each window's module when that window first opens (issue 17): the dashboard's
    charts import matplotlib (about a second and ~40 MB), and a dashboard does not load the settings' module."""
    code = ("import sys, windows.app; before = 'matplotlib' in sys.modules; import windows.dashboard; "
            "print(before, 'matplotlib' in sys.modules, 'windows.settings' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "False"]


# -- Tk objects die on the Tk thread ---------------------------------------------------------------------
# Python must delete a Tcl interpreter on the thread that made it; deleted on another one, Tcl aborts the
# process ("Tcl_AsyncDelete: async handler deleted by the wrong thread"). A call still running on a worker
# when the windows close holds them (its closures reach the Tk root), so shutdown waits for it.


def _hold_for_a_while(held: object, started: threading.Event) -> None:
    started.set()
    time.sleep(0.5)


def test_shutdown_waits_for_the_running_call_so_what_it_holds_is_freed_by_the_caller():
    class Held:
        pass

    freed_on: list[str] = []
    held = Held()
    weakref.finalize(held, lambda: freed_on.append(threading.current_thread().name))
    calls = BackgroundCalls(UiQueue(root=None))  # the queue's root is only used by start() and stop()
    started = threading.Event()
    calls.submit(functools.partial(_hold_for_a_while, held, started), lambda _result: None)
    assert started.wait(5)
    calls.shutdown()
    del held  # the last reference, when shutdown waited: the worker has let go of its own
    deadline = time.monotonic() + 5
    while not freed_on and time.monotonic() < deadline:
        time.sleep(0.05)
    assert freed_on == [threading.current_thread().name]


# The product's sequence, in a process of its own since the failure is an abort: a window's call is still
# running when the UI shuts down; then a garbage collection runs on another thread.
CLOSE_DURING_A_CALL = """
import gc, sys, threading, time, tkinter as tk
from pathlib import Path
from core.paths import DataDir
from windows.app import UiApp

def open_and_close(data_dir):
    root = tk.Tk(className="CRM-Agent-test")
    root.withdraw()
    app = UiApp(root, DataDir(data_dir))
    started = threading.Event()

    def work():  # like a window's call: its closure holds the app, and through it the Tk root
        started.set()
        time.sleep(0.5)
        return app.config

    app.link.run(work, lambda _result: None)
    started.wait(5)
    app.shutdown()
    root.destroy()

open_and_close(Path(sys.argv[1]))
gc.collect()  # on the Tk thread, as agent.py ui's exit and the test harness do
time.sleep(1)  # a call still running would end now and let go of the app
collector = threading.Thread(target=gc.collect)
collector.start()
collector.join()
print("ok")
"""


def test_the_tcl_interpreter_is_freed_on_the_tk_thread_when_the_ui_ends_during_a_call(display, tmp_path):
    out = subprocess.run([sys.executable, "-c", CLOSE_DURING_A_CALL, str(tmp_path / "agent")], cwd=ROOT,
                         env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
