"""The desktop agent under a real desktop: Xvfb, trayer as tray host, a private D-Bus session with dunst
and dbus-monitor recording org.freedesktop.Notifications.Notify calls. Each test starts its own tray
(`python -m tray`, what `python agent.py` runs) with its own data dir and a service on a free port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.helpers import ROOT
from tests.tray_helpers import Desktop, RunningTray, elapsed, start_desktop, start_tray, wait_for

SCREENSHOTS = Path(os.environ.get("TRAY_SCREENSHOTS", "/tmp"))


@pytest.fixture(scope="module")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    d = start_desktop(tmp_path_factory.mktemp("desktop"))
    yield d
    d.close()


@pytest.fixture
def tray_factory(desktop: Desktop, tmp_path: Path) -> Iterator:
    started: list[RunningTray] = []

    def start(name: str = "agent", config: dict | None = None) -> RunningTray:
        tray = start_tray(desktop, tmp_path / name, config)
        started.append(tray)
        return tray

    yield start
    for tray in started:
        tray.stop()


def test_icon_docks_when_the_tray_host_starts_late_and_after_it_restarts(desktop: Desktop, tray_factory):
    desktop.stop_trayer()
    tray = tray_factory()
    wait_for(tray.healthy_service, timeout=30, message="the supervised service")
    wait_for(lambda: "no system tray host yet" in tray.log(), message="the missing tray host to be logged")
    assert desktop.icon_embedding() is None

    desktop.start_trayer()  # the panel arrives after the agent, as at login
    embedded = wait_for(desktop.icon_embedding, timeout=10, message="the icon to dock in trayer")
    assert embedded[0] != embedded[1]
    desktop.screenshot(SCREENSHOTS / "tray-docked.png")

    desktop.stop_trayer()  # the panel restarts
    wait_for(lambda: "lost its tray host" in tray.log(), message="the lost tray host to be logged")
    desktop.start_trayer()
    wait_for(desktop.icon_embedding, timeout=10, message="the icon to dock again")
    wait_for(lambda: tray.log().count("tray icon docked in the tray host") == 2, message="two docks logged")
    desktop.screenshot(SCREENSHOTS / "tray-redocked.png")


def test_click_and_second_launch_open_the_dashboard(desktop: Desktop, tray_factory):
    desktop.start_trayer()
    tray = tray_factory()
    window, _ = wait_for(desktop.icon_embedding, timeout=20, message="the icon to dock")
    wait_for(tray.healthy_service, timeout=30, message="the supervised service")

    # pystray's X11 backend has no menu: a click runs the default action, Open dashboard.
    subprocess.run(["xdotool", "mousemove", "--window", str(window), "4", "4", "click", "1"], env=desktop.env,
                   check=True, timeout=10)
    wait_for(lambda: "opening the dashboard window" in tray.log(), message="the dashboard launch")
    assert f"ui dashboard --data-dir {tray.data_dir}" in tray.log()

    second = subprocess.run([sys.executable, "-m", "tray", "--data-dir", str(tray.data_dir), "--port", "0"],
                            cwd=ROOT, env=desktop.env, capture_output=True, text=True, timeout=20)
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    wait_for(lambda: tray.log().count("opening the dashboard window") == 2, message="the handed-over request")
    assert tray.process.poll() is None


def test_first_start_shows_the_admin_password_once(desktop: Desktop, tray_factory):
    tray = tray_factory()
    wait_for(tray.healthy_service, timeout=30, message="the supervised service")
    password_file = tray.data_dir / "admin_password.txt"
    note = wait_for(lambda: [n for n in desktop.notifications() if str(password_file) in n["body"]],
                    message="the first-run notification")
    assert len(note) == 1
    assert note[0]["app"] == "CRM Agent"
    assert note[0]["icon"].endswith("icon.png")
    child_log = (tray.data_dir / "logs" / "service-child.log").read_text()
    assert "[redacted]" in child_log and "listening on" in child_log


def test_killed_service_is_back_and_healthy_within_5_s(tray_factory):
    tray = tray_factory()
    first = wait_for(tray.healthy_service, timeout=30, message="the supervised service")
    os.kill(first["pid"], signal.SIGKILL)
    start = time.monotonic()
    second = wait_for(lambda: (info := tray.healthy_service()) and info["pid"] != first["pid"] and info,
                      timeout=5, message="a new healthy service")
    assert elapsed(start) < 5
    assert psutil.Process(second["pid"]).ppid() == tray.process.pid
    assert "service exited with code -9" in tray.log()


def test_alerts_notify_with_their_title_and_a_burst_is_capped(desktop: Desktop, tray_factory):
    # Memory and disk always exceed 0 %: with no sustain and no cooldown the monitor raises an alert on every
    # sample, a real burst. The tray's defaults allow 3 notifications per minute.
    tray = tray_factory("alerts", {"monitor": {"memory_percent": 0, "disk_percent": 0, "cpu_percent": 100,
                                               "sustain_s": 0, "cooldown_s": 0, "sample_interval_s": 0.1}})
    info = wait_for(tray.healthy_service, timeout=30, message="the supervised service")
    before = len(desktop.notifications())
    seen = _count_alerts(info, tray.data_dir, want=20, timeout=20)
    assert seen >= 20
    titles = {"High memory usage", "Disk almost full"}
    alerts = wait_for(lambda: [n for n in desktop.notifications()[before:] if n["summary"] in titles],
                      message="an alert notification")
    assert alerts[0]["app"] == "CRM Agent"
    time.sleep(0.5)  # let any straggler through before counting: the cap must hold, not just be slow
    shown = [n for n in desktop.notifications()[before:] if n["summary"].split(" and ")[0] in titles]
    assert 1 <= len(shown) <= 3, shown


def _count_alerts(info: dict, data_dir: Path, want: int, timeout: float) -> int:
    import websocket

    token = (data_dir / "local_token").read_text().strip()
    ws = websocket.create_connection(info["url"].replace("http", "ws") + f"/ws?token={token}", timeout=timeout,
                                     suppress_origin=True)
    count = 0
    deadline = time.monotonic() + timeout
    try:
        while count < want and time.monotonic() < deadline:
            if json.loads(ws.recv()).get("type") == "alert.raised":
                count += 1
    finally:
        ws.close()
    return count


def test_quit_stops_everything(tray_factory):
    tray = tray_factory()
    info = wait_for(tray.healthy_service, timeout=30, message="the supervised service")
    requests.get(info["url"] + "/api/health", timeout=5)
    tree = [tray.process, *psutil.Process(tray.process.pid).children(recursive=True)]
    pids = [p.pid for p in tree]
    assert info["pid"] in pids
    assert tray.stop() == 0  # SIGTERM runs the same path as the Quit menu item
    wait_for(lambda: not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"],
             timeout=10, message="every process of the tray to exit")
    assert not (tray.data_dir / "service.json").exists()
    assert not (tray.data_dir / "tray.instance").exists()
    assert "desktop agent stopped" in tray.log()
