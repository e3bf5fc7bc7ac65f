"""Pairing the browser extension, seen from the desktop windows under Xvfb against a real service: the Connect
window (install steps, the extension's folder, the code large with its countdown, Deny, Connected ✓), the
Settings > Security list of paired extensions with Revoke and of pending pairings, and the ways to the
Connect window (the empty dashboard, the windows' menu bar). Screenshots land in the folder the run prints."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

import windows.connect
from desktop.extension_files import ExtensionFiles
from desktop.pairing import expiry_epoch, fmt_countdown, group_code
from tests.helpers import ROOT, start_service
from tests.pairing_helpers import (
    OTHER_ORIGIN,
    as_extension,
    code_of,
    complete_pairing,
    extensions,
    pair,
    pending,
    start_pairing,
)
from tests.ui_helpers import UiHarness
from windows.agent_menu import CONNECT_LABEL
from windows.dashboard import INVITE_PAIRED, INVITE_UNPAIRED


@pytest.fixture
def extension_dir(tmp_path):
    folder = tmp_path / "src" / "extension"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"manifest_version": 3}')
    (tmp_path / "src" / "dist").mkdir()
    package = tmp_path / "src" / "dist" / "crm-agent-chromium.zip"
    package.write_bytes(b"PK")
    return ExtensionFiles(folder, (package,))


@pytest.fixture
def setup(display, tmp_path, extension_dir, monkeypatch):
    # The extension's files of this checkout depend on the build; the window shows whatever is located.
    monkeypatch.setattr(windows.connect, "locate_extension", lambda _data_root: extension_dir)
    running = start_service(tmp_path / "agent")
    ui = UiHarness(running.data_dir, display)
    yield ui, running
    ui.close()
    running.stop()


def open_connect(ui):
    window = ui.app.open("connect")
    ui.pump(lambda: window.files is not None and window.phase != "loading", timeout=15, message="the window loaded")
    ui.pump(lambda: ui.app.link.connected, timeout=15, message="the event stream")
    return window


def test_the_connect_window_shows_the_code_and_deny_ends_the_pairing(setup, extension_dir):
    ui, service = setup
    window = open_connect(ui)
    assert window.top.title() == "Connect WhatsApp Web"
    assert window.phase == "waiting" and window.headline.cget("text") == "Waiting for the browser…"
    assert window.path_var.get() == str(extension_dir.folder)
    assert "crm-agent-chromium.zip" in window.zips_label.cget("text")
    opened: list = []
    window.opener = opened.append
    window.open_button.invoke()
    window.copy_button.invoke()
    assert opened == [extension_dir.folder]
    assert ui.root.clipboard_get() == str(extension_dir.folder)
    ui.screenshot(window.top, "connect-waiting")

    pairing_id = start_pairing(service.url)
    ui.pump(lambda: window.phase == "code", timeout=10, message="the code on screen")
    code = code_of(service.url, service.local_token, pairing_id)
    assert window.code_label.cget("text") == group_code(code) and len(code) == 6
    assert window.code_label.cget("text")[3] == " "
    assert window.requester.cget("text") == "Test Chromium wants to connect"
    assert window.countdown.cget("text") in ("Expires in 2:00", "Expires in 1:59", "Expires in 1:58")
    assert window.deny_button.winfo_ismapped()
    ui.screenshot(window.top, "connect-code")

    window.deny_button.invoke()
    ui.pump(lambda: window.phase == "waiting", timeout=10, message="back to waiting")
    assert pending(service.url, service.local_token) == []
    assert "was denied" in window.detail.cget("text")
    assert "Denied the request from Test Chromium" in window.status.cget("text")
    ui.screenshot(window.top, "connect-denied")


def test_a_pending_code_is_shown_when_the_window_opens_late_and_pairing_completes_it(setup):
    ui, service = setup
    pairing_id = start_pairing(service.url)  # the tray was not running, say: the window opens afterwards
    window = open_connect(ui)
    ui.pump(lambda: window.phase == "code", timeout=10, message="the pending code")
    code = code_of(service.url, service.local_token, pairing_id)
    assert window.code_label.cget("text") == group_code(code)

    complete_pairing(service.url, pairing_id, code)
    ui.pump(lambda: window.phase == "connected", timeout=10, message="connected")
    assert window.headline.cget("text") == "Connected ✓  Test Chromium"
    assert not window.code_label.winfo_ismapped()
    ui.screenshot(window.top, "connect-connected")

    # Opened again later: it says which browser is paired already.
    window.close()
    again = open_connect(ui)
    assert again.phase == "waiting" and "Already paired: Test Chromium" in again.detail.cget("text")


def test_the_security_tab_lists_paired_extensions_and_revokes_one(setup):
    ui, service = setup
    paired = pair(service.url, service.local_token)["extension"]
    window = ui.app.open("settings")
    ui.pump(lambda: window.extensions is not None and window.extensions.loaded, timeout=15,
            message="the extensions listed")
    window.notebook.select(window.tabs["Security"])
    pane = window.extensions
    assert [(e["id"], e["name"], e["state"]) for e in pane.extensions] == [(paired["id"], "Test Chromium", "active")]
    shown = {w.cget("text") for w in pane.table.winfo_children() if w.winfo_class() == "TLabel"}
    assert {"Test Chromium", paired["origin"], "Chromium", "active"} <= shown
    ui.pump(lambda: ui.app.link.connected, timeout=15, message="the event stream")

    other = start_pairing(service.url, "Brave on Windows", OTHER_ORIGIN)
    ui.pump(lambda: [p["pairing_id"] for p in pane.pending] == [other], timeout=10, message="the pending pairing")
    code = code_of(service.url, service.local_token, other)
    assert f"code {group_code(code)}" in {w.cget("text") for w in pane.pending_table.winfo_children()
                                          if w.winfo_class() == "TLabel"}
    ui.screenshot(window.top, "settings-security-extensions")

    pane.confirm = lambda _title, _text: False  # the user says No: nothing happens
    pane.revoke_buttons[str(paired["id"])].invoke()
    assert extensions(service.url, service.local_token)[0]["state"] == "active"
    asked: list = []
    pane.confirm = lambda title, text: asked.append((title, text)) or True
    pane.revoke_buttons[str(paired["id"])].invoke()
    ui.pump(lambda: pane.extensions and pane.extensions[0]["state"] == "revoked", timeout=10, message="revoked")
    assert asked[0][0] == "Revoke Test Chromium?" and paired["origin"] in asked[0][1]
    assert extensions(service.url, service.local_token)[0]["state"] == "revoked"
    assert pane.revoke_buttons == {} and pane.message.cget("text") == "Test Chromium is revoked."

    pane.deny_buttons[other].invoke()
    ui.pump(lambda: not pane.pending, timeout=10, message="the pending pairing denied")
    assert pending(service.url, service.local_token) == []
    ui.screenshot(window.top, "settings-security-revoked")


def test_the_empty_dashboard_and_the_menu_bar_lead_to_the_connect_window(setup):
    ui, service = setup
    dashboard = ui.app.open("dashboard")
    ui.pump(lambda: dashboard.first_render_ms is not None, timeout=20, message="the dashboard")
    bar = dashboard.overview.connect_bar
    assert bar.winfo_ismapped() and dashboard.overview.connect_button.cget("text") == "Connect WhatsApp Web"
    assert dashboard.overview.connect_text.cget("text") == INVITE_UNPAIRED
    ui.screenshot(dashboard.top, "dashboard-empty-connect")
    dashboard.overview.connect_button.invoke()
    assert "connect" in ui.app.windows
    ui.app.windows["connect"].close()

    menu = dashboard.menu.windows
    index = next(i for i in range(menu.index("end") + 1)
                 if menu.type(i) == "command" and menu.entrycget(i, "label") == CONNECT_LABEL)
    menu.invoke(index)
    assert "connect" in ui.app.windows and not ui.app.windows["connect"].closed

    # Paired but nothing captured yet: the invitation says to open WhatsApp Web, not to install.
    ui.pump(lambda: ui.app.link.connected, timeout=15, message="the event stream")
    pair(service.url, service.local_token)
    ui.pump(lambda: dashboard.overview.connect_text.cget("text") == INVITE_PAIRED, timeout=10,
            message="the invitation for a paired browser")


def test_an_expired_code_leaves_the_screen_when_its_countdown_ends(setup):
    ui, service = setup
    window = open_connect(ui)
    start_pairing(service.url)
    ui.pump(lambda: window.phase == "code", timeout=10, message="the code")
    window.clock = lambda: time.time() + 121  # two minutes later
    window._update_countdown()
    assert window.phase == "waiting" and "The last request expired." in window.detail.cget("text")


def test_pairing_text_helpers():
    assert group_code("012345") == "012 345" and group_code("12345") == "12345"
    assert expiry_epoch("2026-12-07T03:00:00.000Z") == expiry_epoch(1796612400) == expiry_epoch(1796612400000)
    assert expiry_epoch("not a time") is None and expiry_epoch(None) is None
    assert [fmt_countdown(s) for s in (120, 119.2, 61, 0.3, -5)] == ["2:00", "2:00", "1:01", "0:01", "0:00"]
    assert windows.connect.browser_label({"name": "Work laptop", "browser": "firefox"}) == "Work laptop (Firefox)"
    assert windows.connect.browser_label({"name": "Firefox on Linux", "browser": "firefox"}) == "Firefox on Linux"


def test_the_pairing_windows_never_import_gevent_bottle_storage_crm_or_api():
    code = ("import sys, windows.connect, windows.extensions_pane, windows.settings, desktop.extension_files; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('gevent', 'bottle', 'storage', 'crm', 'api'));"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_without_a_tray_the_windows_open_what_the_extension_asks_for(setup):
    ui, service = setup
    window = open_connect(ui)  # windows started on their own: no tray.instance in the data directory
    token = pair(service.url, service.local_token)["token"]
    ui.pump(lambda: window.phase == "connected", timeout=10, message="connected")
    r = requests.post(service.url + "/api/extension/open-dashboard", headers=as_extension(token), timeout=10)
    assert r.status_code == 202, r.text
    ui.pump(lambda: "dashboard" in ui.app.windows, timeout=10, message="the dashboard opened")
