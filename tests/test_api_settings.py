"""GET/PUT /api/system/config and /api/users against a real service: validation, atomic save, restart flags,
what is applied live, auth, and that no secret or hash is ever answered."""

from __future__ import annotations

import json
import stat

import pytest

from core.config import SETTINGS
from tests.helpers import start_service


@pytest.fixture
def svc(tmp_path):
    running = start_service(tmp_path / "agent", env={"CRM_AGENT__WEBSOCKET__MAX_CLIENTS": "12"})
    yield running
    running.stop()


def settings_by_key(body: dict) -> dict[str, dict]:
    return {item["key"]: item for item in body["settings"]}


def file_config(svc) -> dict:
    return json.loads((svc.data_dir / "config.json").read_text())


def user_token(svc, username: str, password: str) -> str:
    r = svc.post("/api/auth/login", json={"username": username, "password": password}, token=False)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_get_config_describes_every_declared_setting_with_its_values(svc):
    r = svc.get("/api/system/config")
    assert r.status_code == 200, r.text
    body = r.json()
    items = settings_by_key(body)
    assert list(items) == [s.key for s in SETTINGS if not s.secret]
    port = items["server.port"]
    assert (port["type"], port["minimum"], port["maximum"], port["default"]) == ("integer", 0, 65535, 8080)
    assert port["restart"] is True and port["applies"] == "service restart"
    assert items["ai.engine"]["choices"] == ["auto", "rules", "llm"]
    assert items["ai.llm_enabled"]["value"] is False  # the tests' config.json
    assert items["monitor.cpu_percent"]["restart"] is False and items["monitor.cpu_percent"]["applies"] == "now"
    assert items["notifications.enabled"]["applies"] == "desktop agent restart"
    assert items["websocket.max_clients"]["value"] == 12
    assert items["websocket.max_clients"]["env_override"] == "CRM_AGENT__WEBSOCKET__MAX_CLIENTS"
    assert body["env_overrides"] == ["websocket.max_clients"]
    assert body["path"] == str(svc.data_dir / "config.json") and body["pending_restart"] == []
    assert svc.local_token not in r.text
    assert (svc.data_dir / "jwt_secret").read_text().strip() not in r.text


def test_put_config_saves_atomically_applies_live_keys_and_names_restart_keys(svc):
    r = svc.request("PUT", "/api/system/config", json={"changes": {
        "monitor.cpu_percent": 55, "server.port": 9191, "notifications.burst_max": 5, "ai.temperature": 0.7}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(body["changed"]) == ["ai.temperature", "monitor.cpu_percent", "notifications.burst_max",
                                       "server.port"]
    assert body["applied"] == ["monitor.cpu_percent"]
    assert sorted(body["restart_required"]) == ["ai.temperature", "server.port"]
    assert body["agent_restart_required"] == ["notifications.burst_max"]
    items = settings_by_key(svc.get("/api/system/config").json())
    assert items["monitor.cpu_percent"]["value"] == items["monitor.cpu_percent"]["running"] == 55.0
    assert items["server.port"]["value"] == 9191 and items["server.port"]["running"] == 8080
    assert "server.port" in svc.get("/api/system/config").json()["pending_restart"]
    on_disk = file_config(svc)
    assert on_disk["monitor"] == {"cpu_percent": 55.0} and on_disk["server"] == {"port": 9191}
    assert on_disk["ai"] == {"llm_enabled": False, "temperature": 0.7}
    assert stat.S_IMODE((svc.data_dir / "config.json").stat().st_mode) == 0o600
    assert not (svc.data_dir / "config.json.tmp").exists()
    # Back to the default: the key leaves the file (it holds only what differs from the defaults).
    r = svc.request("PUT", "/api/system/config", json={"changes": {"server.port": 8080}})
    assert r.status_code == 200 and "server" not in file_config(svc)


def test_put_config_names_every_bad_key_and_writes_nothing(svc):
    before = (svc.data_dir / "config.json").read_bytes()
    r = svc.request("PUT", "/api/system/config", json={"changes": {
        "server.port": 70000, "ai.engine": "gpt", "nope.key": 1, "monitor.cpu_percent": 50,
        "websocket.max_clients": 3}})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    problems = {d["field"]: d["message"] for d in error["details"]}
    assert problems == {"server.port": "must be <= 65535", "ai.engine": "must be one of auto, rules, llm",
                        "nope.key": "unknown setting",
                        "websocket.max_clients": "set by the environment variable "
                                                 "CRM_AGENT__WEBSOCKET__MAX_CLIENTS; change it there"}
    assert error["field"] == "server.port" and error["message"] == "server.port: must be <= 65535"
    assert (svc.data_dir / "config.json").read_bytes() == before
    assert settings_by_key(svc.get("/api/system/config").json())["monitor.cpu_percent"]["running"] == 80.0


@pytest.mark.parametrize("body,status", [({}, 422), ({"changes": {}}, 422), ({"changes": []}, 422),
                                         ({"changes": {"a.b": 1}, "x": 1}, 422)])
def test_put_config_rejects_malformed_bodies(svc, body, status):
    r = svc.request("PUT", "/api/system/config", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == "validation_error"


def test_capture_paused_and_log_level_apply_at_once(svc):
    r = svc.request("PUT", "/api/system/config", json={"changes": {"capture.paused": True, "logging.level": "DEBUG"}})
    assert r.status_code == 200 and sorted(r.json()["applied"]) == ["capture.paused", "logging.level"]
    assert svc.get("/api/health").json()["capture"]["paused"] is True
    svc.request("PUT", "/api/system/config", json={"changes": {"capture.paused": False}})
    assert svc.get("/api/health").json()["capture"]["paused"] is False


def test_config_and_users_need_an_admin(svc):
    admin = svc.post("/api/users", json={"username": "ana", "password": "correct horse", "role": "agent"})
    assert admin.status_code == 201, admin.text
    agent = user_token(svc, "ana", "correct horse")
    for method, path, body in (("GET", "/api/system/config", None),
                               ("PUT", "/api/system/config", {"changes": {"monitor.cpu_percent": 1}}),
                               ("GET", "/api/users", None),
                               ("POST", "/api/users", {"username": "x1", "password": "12345678"})):
        assert svc.request(method, path, json=body, token=agent).status_code == 403, path
        assert svc.request(method, path, json=body, token=False).status_code == 401, path


def test_users_list_create_and_password_changes(svc):
    r = svc.post("/api/users", json={"username": "bia", "password": "first password", "role": "admin"})
    assert r.status_code == 201 and r.json()["username"] == "bia" and r.json()["role"] == "admin"
    listed = svc.get("/api/users").json()["items"]
    assert [u["username"] for u in listed] == ["admin", "bia"]
    assert all(set(u) == {"username", "role", "active", "last_login_at", "created_at"} for u in listed)
    assert "argon2" not in svc.get("/api/users").text
    assert svc.post("/api/users", json={"username": "bia", "password": "another one"}).status_code == 409
    bad = svc.post("/api/users", json={"username": "no spaces", "password": "short"})
    assert bad.status_code == 422 and {d["field"] for d in bad.json()["error"]["details"]} == {"username", "password"}

    # An admin changes anyone's password without the current one.
    r = svc.request("PUT", "/api/users/bia/password", json={"password": "second password"})
    assert r.status_code == 200 and r.json() == {"username": "bia", "changed": True}
    assert svc.post("/api/auth/login", json={"username": "bia", "password": "first password"},
                    token=False).status_code == 401
    user_token(svc, "bia", "second password")
    assert svc.request("PUT", "/api/users/nobody/password", json={"password": "whatever1"}).status_code == 404

    # A user changes their own, with the current password, and nobody else's.
    svc.post("/api/users", json={"username": "cris", "password": "cris password"})
    cris = user_token(svc, "cris", "cris password")
    no_current = svc.request("PUT", "/api/users/cris/password", json={"password": "new cris pw"}, token=cris)
    assert no_current.status_code == 422 and no_current.json()["error"]["field"] == "current_password"
    wrong = svc.request("PUT", "/api/users/cris/password", json={"password": "new cris pw",
                                                                 "current_password": "nope nope"}, token=cris)
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password"
    other = svc.request("PUT", "/api/users/bia/password", json={"password": "hijacked!",
                                                                "current_password": "cris password"}, token=cris)
    assert other.status_code == 403
    ok = svc.request("PUT", "/api/users/cris/password", json={"password": "new cris pw",
                                                              "current_password": "cris password"}, token=cris)
    assert ok.status_code == 200, ok.text
    user_token(svc, "cris", "new cris pw")
    short = svc.request("PUT", "/api/users/cris/password", json={"password": "short"})
    assert short.status_code == 422 and short.json()["error"]["field"] == "password"


def test_the_running_service_applies_every_declared_live_key(tmp_path):
    import logging

    from core.config import LIVE_KEYS, SETTINGS_BY_KEY, load_config
    from core.paths import DataDir
    from runtime.build import build_service

    assert all(not SETTINGS_BY_KEY[key].restart for key in LIVE_KEYS)
    service = build_service(load_config(None).with_overrides({"ai.llm_enabled": False}), DataDir(tmp_path))
    root_level = logging.getLogger().level
    try:
        service.apply_settings({key: service.config[key] for key in LIVE_KEYS})  # a key it cannot apply raises
        with pytest.raises(ValueError):
            service.apply_settings({"server.port": 9191})  # needs a restart
    finally:
        service.close()
        logging.getLogger().setLevel(root_level)


def test_backups_kept_applies_to_the_next_backup_without_a_restart(svc):
    r = svc.request("PUT", "/api/system/config", json={"changes": {"database.max_backups": 1}})
    assert r.status_code == 200 and r.json()["applied"] == ["database.max_backups"]
    for _ in range(2):
        assert svc.post("/api/system/backup", json={}).status_code == 201
    listed = svc.get("/api/system/backups").json()
    assert listed["keep"] == 1 and len(listed["items"]) == 1
