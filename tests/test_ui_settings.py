"""The settings window under Xvfb against a real service: it shows what GET /api/system/config says, saves
through the API (file and API agree afterwards), shows local and server validation errors inline, names the
keys that need a restart and has the service restarted by its one owner, the tray (started when none runs; a
service started without it is named, never stopped), lists users and changes a password."""

from __future__ import annotations

import json
import os
import re

import psutil
import pytest

from tests.helpers import start_service, wait_until
from tests.ui_helpers import UiHarness, quit_desktop_agent, tray_pid
from windows.forms import shown_text
from windows.settings import TABS


@pytest.fixture
def setup(display, tmp_path):
    running = start_service(tmp_path / "agent")
    r = running.post("/api/users", json={"username": "maria", "password": "maria password", "role": "agent"})
    assert r.status_code == 201, r.text
    ui = UiHarness(running.data_dir, display)
    yield ui, running
    ui.close()
    running.stop()
    quit_desktop_agent(running.data_dir)


def open_loaded(ui):
    window = ui.app.open("settings")
    ui.pump(lambda: window.loaded, timeout=15, message="settings loaded")
    ui.pump(lambda: window.users, timeout=10, message="users loaded")
    return window


def config_items(running) -> dict[str, dict]:
    r = running.get("/api/system/config")
    assert r.status_code == 200, r.text
    return {item["key"]: item for item in r.json()["settings"]}


def test_every_setting_is_shown_with_the_api_value(setup):
    ui, running = setup
    window = open_loaded(ui)
    items = config_items(running)
    assert set(window.fields) == set(items)
    for key, item in items.items():
        field = window.fields[key]
        shown = field.var.get()
        expected = bool(item["value"]) if item["type"] == "boolean" else shown_text(item, item["value"])
        if field.names:  # ui.language: by the language's name
            expected = field.names[item["value"]]
        assert shown == expected, key
        assert (field.marker.cget("text") != "") == item["restart"], key
    titles = [window.notebook.tab(tab, "text") for tab in window.notebook.tabs()]
    assert titles == [title for title, _sections in TABS]
    assert str(window.save_button.state()) and "disabled" in window.save_button.state()
    users = running.get("/api/users").json()["items"]
    shown_users = [window.user_tree.item(iid, "values") for iid in window.user_tree.get_children()]
    assert [row[0] for row in shown_users] == [u["username"] for u in users] == ["admin", "maria"]
    assert [row[1] for row in shown_users] == ["administrator", "agent"]  # the roles by name (admin, agent)
    for title, tab in window.tabs.items():
        window.notebook.select(tab)
        slug = title.lower().replace(" / ", "-").replace(" & ", "-").replace(" ", "-")
        ui.screenshot(window.top, f"settings-{slug}")


def test_a_change_is_saved_through_the_api_and_restart_keys_are_named(setup):
    ui, running = setup
    window = open_loaded(ui)
    window.fields["ai.temperature"].var.set("0.9")
    window.fields["monitor.cpu_percent"].var.set("65")
    assert "disabled" not in window.save_button.state()
    window.save()
    ui.pump(lambda: window.message.cget("text").startswith("Saved."), timeout=10, message="saved")
    text = window.message.cget("text")
    assert "Applied now: CPU alert (%)" in text and "Restart the service to apply: Temperature" in text
    assert window.restart_button.winfo_ismapped()
    items = config_items(running)
    assert items["ai.temperature"]["value"] == 0.9 and items["ai.temperature"]["running"] == 0.2
    assert items["monitor.cpu_percent"]["value"] == items["monitor.cpu_percent"]["running"] == 65.0
    on_disk = json.loads((running.data_dir / "config.json").read_text())
    assert on_disk["ai"]["temperature"] == 0.9 and on_disk["monitor"]["cpu_percent"] == 65.0
    assert "disabled" in window.save_button.state()
    window.notebook.select(window.tabs["AI / LLaMA"])
    ui.screenshot(window.top, "settings-saved-restart-needed")


def test_invalid_values_are_shown_inline_and_nothing_is_written(setup):
    ui, running = setup
    window = open_loaded(ui)
    before = (running.data_dir / "config.json").read_bytes()
    port = window.fields["server.port"]
    port.var.set("70000")
    assert port.error_label.winfo_manager() and port.error_label.cget("text") == "must be <= 65535"
    assert "disabled" in window.save_button.state()
    window.fields["ai.max_tokens"].var.set("lots")
    assert window.fields["ai.max_tokens"].error == "must be an integer"
    window.save()
    assert window.message.cget("text").startswith("Not saved: fix Port, Reply length (tokens)")
    ui.screenshot(window.top, "settings-inline-errors")
    window.revert()
    assert port.error is None and port.var.get() == "8080"

    # What only the service knows (here: a limit the window was not told) comes back inline too.
    port.spec = {**port.spec, "maximum": None}
    port.var.set("70000")
    assert port.error is None
    window.save()
    ui.pump(lambda: port.error, timeout=10, message="the service's message")
    assert port.error == "must be <= 65535"
    assert window.message.cget("text") == "Not saved: Port: must be <= 65535"
    assert (running.data_dir / "config.json").read_bytes() == before


def test_users_are_added_and_passwords_changed(setup):
    ui, running = setup
    window = open_loaded(ui)
    window.notebook.select(window.tabs["Security"])
    dialog = window.add_user_dialog()
    dialog.vars["username"].set("joao")
    dialog.vars["password"].set("joao password")
    dialog.vars["again"].set("joao password")
    dialog._ok()
    ui.pump(lambda: "joao" in window.user_tree.get_children(), timeout=10, message="the new user listed")
    assert [u["username"] for u in running.get("/api/users").json()["items"]] == ["admin", "joao", "maria"]

    window.user_tree.selection_set("maria")
    dialog = window.password_dialog()
    dialog.vars["password"].set("short")
    dialog.vars["again"].set("short")
    dialog._ok()
    ui.pump(lambda: dialog.error.cget("text"), timeout=10, message="the short-password error")
    assert "password" in dialog.error.cget("text") and "8" in dialog.error.cget("text")
    ui.screenshot(dialog.top, "settings-password-dialog-error")
    dialog.vars["password"].set("maria new password")
    dialog.vars["again"].set("maria new password")
    dialog._ok()
    ui.pump(lambda: window.users_message.cget("text") == "Password of maria changed.", timeout=10,
            message="password changed")
    r = running.post("/api/auth/login", json={"username": "maria", "password": "maria new password"}, token=False)
    assert r.status_code == 200, r.text


def test_the_ai_tab_lists_the_models_and_the_model_test_says_how_to_turn_the_llm_on(setup):
    ui, running = setup
    window = open_loaded(ui)
    window.notebook.select(window.tabs["AI / LLaMA"])
    listing = running.get("/api/ai/models").json()
    # With the LLM off the bundled model was never put in this data directory's models folder: the list says
    # so, with the advice (the rows themselves: test_ui_knowledge's model test, with the LLM on).
    assert listing["items"] == [] and listing["advice"], listing
    ui.pump(lambda: window.models_advice.cget("text"), timeout=15, message="the models list")
    assert window.models_advice.cget("text") == f"No GGUF file in the models folder. {listing['advice']}"
    assert window.models_dir.cget("text") == f"GGUF files in {listing['models_dir']}"

    window.test_model()
    ui.pump(lambda: window.test_result.cget("text").startswith("The test failed"), timeout=20,
            message="the model test")
    direct = running.post("/api/ai/model-test", json={})
    assert direct.status_code == 409 and direct.json()["error"]["code"] == "llm_disabled"  # the tests' default
    assert "Turn on “Use the local AI model” below" in window.test_result.cget("text")
    ui.screenshot(window.top, "settings-model-test")


def test_restart_now_names_a_service_started_without_the_tray_and_leaves_it_running(setup):
    ui, running = setup
    window = open_loaded(ui)
    window.fields["ai.temperature"].var.set("0.9")
    window.save()
    ui.pump(lambda: window.restart_button.winfo_ismapped(), timeout=10, message="the restart offer")
    window.restart()
    ui.pump(lambda: window.message.cget("text").startswith("Could not restart the service: it runs without the "
                                                           "desktop agent"), timeout=15, message="the answer")
    text = window.message.cget("text")
    # Where it was started: the test process started this `agent.py serve`.
    assert f"`agent.py serve`, pid {running.process.pid}, started by " in text and f"(pid {os.getpid()})" in text
    assert text.endswith("Restart it where it was started.")
    assert window.restart_button.winfo_ismapped() and "disabled" not in window.restart_button.state()
    ui.pump(timeout=1)
    assert running.process.poll() is None  # not stopped: it is not the window's, nor the tray's
    assert json.loads((running.data_dir / "service.json").read_text())["pid"] == running.process.pid
    assert tray_pid(running.data_dir) is None  # and no desktop agent was started to fight over it
    assert running.get("/api/health").status_code == 200


def test_restart_now_with_no_service_starts_the_desktop_agent_which_owns_the_new_one(setup):
    ui, running = setup
    window = open_loaded(ui)
    window.fields["server.port"].var.set("0")  # a free port after the restart (tests use no fixed ports)
    window.save()
    ui.pump(lambda: window.restart_button.winfo_ismapped(), timeout=10, message="the restart offer")
    assert "Port" in window.message.cget("text")
    running.stop()  # the service went away: no service, no tray
    window.restart()
    ui.pump(lambda: window.message.cget("text").startswith("Starting the desktop agent, which starts the service"),
            timeout=15, message="the answer")
    tray = ui.pump(lambda: tray_pid(running.data_dir), timeout=30, message="the desktop agent's listener")

    def new_service() -> dict | None:
        try:
            info = json.loads((running.data_dir / "service.json").read_text())
        except (OSError, ValueError):
            return None
        return info if info["pid"] != running.process.pid else None

    service = ui.pump(new_service, timeout=60, message="a new service")
    assert psutil.Process(service["pid"]).ppid() == tray  # the tray's child: the tray owns its life
    ui.pump(lambda: window.message.cget("text") == "The service restarted with the saved settings.", timeout=60,
            message="the window reconnected")
    ui.pump(lambda: not window.restart_button.winfo_ismapped(), timeout=5, message="no restart offer left")
    token = running.local_token
    import requests

    body = requests.get(service["url"] + "/api/system/config", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).json()
    assert body["pending_restart"] == []
    port_item = next(i for i in body["settings"] if i["key"] == "server.port")
    assert port_item["value"] == port_item["running"] == 0
    wait_until(lambda: window.link.connected, message="connected")


def test_restart_with_a_tray_that_does_not_answer_stops_nothing(tmp_path):
    """A tray.instance whose listener is gone (a hung or killed tray): the window says so and kills nothing."""
    from core.paths import DataDir
    from windows.service_link import ServiceLink, ServiceNotRestarted

    running = start_service(tmp_path / "agent")
    try:
        # A live process (this one) announced as the tray, nobody listening on port 9: a hung tray.
        (running.data_dir / "tray.instance").write_text(f"{os.getpid()} 9 0123456789abcdef\n")
        link = ServiceLink(DataDir(running.data_dir), ui=None, calls=None)
        with pytest.raises(ServiceNotRestarted, match=re.escape("the desktop agent is running but did not answer. "
                                                                "Use Restart service in its tray menu")):
            link.restart_service()
        assert running.process.poll() is None and running.get("/api/health").status_code == 200
        assert link.start_service().startswith("The tray agent is running")
    finally:
        running.stop()


def test_restart_and_start_never_start_a_second_owner_for_a_service_started_without_the_tray(tmp_path):
    from core.paths import DataDir
    from windows.service_link import ServiceLink, ServiceNotRestarted

    running = start_service(tmp_path / "agent")
    try:
        link = ServiceLink(DataDir(running.data_dir), ui=None, calls=None)
        assert f"`agent.py serve`, pid {running.process.pid}" in link.start_service()
        with pytest.raises(ServiceNotRestarted, match=re.escape(f"`agent.py serve`, pid {running.process.pid}")):
            link.restart_service()
        assert not (running.data_dir / "tray.instance").exists()
        assert running.process.poll() is None
    finally:
        running.stop()


def test_the_window_says_when_the_service_is_not_running(setup):
    ui, running = setup
    running.stop()
    window = ui.app.open("settings")
    ui.pump(lambda: window.banner.visible, timeout=15, message="the banner")
    ui.pump(lambda: "Cannot load the settings" in window.placeholder.cget("text"), timeout=15,
            message="the error state")
    assert "not running" in window.placeholder.cget("text")
    ui.screenshot(window.top, "settings-service-down")


def test_restart_now_with_the_tray_running_asks_its_supervisor(display, tmp_path):
    """The tray supervises the service: the window hands it a 'restart-service' request, and the new service
    is the tray's child again."""
    from tests.tray_helpers import start_desktop, start_tray, wait_for

    desktop = start_desktop(tmp_path / "desktop")
    tray = ui = None
    try:
        tray = start_tray(desktop, tmp_path / "agent")
        first = tray.wait_healthy()
        wait_for(lambda: (tray.data_dir / "tray.instance").exists(), timeout=10, message="the tray's listener")
        ui = UiHarness(tray.data_dir, display)  # the windows need not share the tray's screen
        window = ui.app.open("settings")
        ui.pump(lambda: window.loaded, timeout=15, message="settings loaded")
        window.restart()
        ui.pump(lambda: window.message.cget("text").startswith("The tray agent is restarting the service"),
                timeout=10, message="the tray's answer")
        second = wait_for(lambda: (info := tray.healthy_service()) and info["pid"] != first["pid"] and info,
                          timeout=30, message="a new service")
        assert psutil.Process(second["pid"]).ppid() == tray.process.pid
        assert not psutil.pid_exists(first["pid"]) or psutil.Process(first["pid"]).status() == "zombie"
        ui.pump(lambda: window.message.cget("text") == "The service restarted with the saved settings.",
                timeout=30, message="the window reconnected")
        assert "restarting the service on request" in (tray.data_dir / "logs" / "tray.log").read_text()
    finally:
        if ui is not None:
            ui.close()
        if tray is not None:
            tray.stop()
        desktop.close()
