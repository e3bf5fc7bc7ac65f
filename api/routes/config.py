"""GET/PUT /api/system/config: every declared setting for the settings window, and saving changes.

The service reads most settings once, when it starts; only the keys in core.config.LIVE_KEYS are applied to
the running service at once (Service.apply_settings says how). Everything else is saved to config.json and
reported as needing a restart: the service's (`restart_required`) or, for the tray's notification settings,
the desktop agent's (`agent_restart_required`). GET shows both the saved value (what the next start uses) and the
running one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from api.errors import ApiError
from api.plugins import Request
from api.roles import ADMINS
from api.routing import ApiRoute
from api.schemas import ConfigChanges
from core.config import (
    AGENT_RESTART,
    NOW,
    SERVICE_RESTART,
    SETTINGS,
    SETTINGS_BY_KEY,
    Config,
    ConfigError,
    describe,
    env_name,
    env_overrides,
    load_effective_config,
    takes_effect,
    update_user_file,
)
from core.config_paths import check_path_change
from crm.service import Service

log = logging.getLogger("crm_agent.config")


def applies(key: str) -> str:
    return takes_effect(SETTINGS_BY_KEY[key])


def config_path(service: Service) -> Path:
    return service.config.path or service.data_dir.config_file


def _saved_config(service: Service) -> tuple[Config, str | None]:
    """The configuration the next start would use (file + environment), or the running one and the
    file's error when the file was broken by hand since."""
    try:
        return load_effective_config(config_path(service)), None
    except ConfigError as exc:
        return service.config, str(exc)


def settings_document(service: Service) -> dict[str, Any]:
    saved, file_error = _saved_config(service)
    from_env = set(env_overrides())
    items = []
    for setting in SETTINGS:
        if setting.secret:
            continue  # never through the API
        key = setting.key
        running = service.capture_paused if key == "capture.paused" else service.config[key]
        items.append({**describe(setting), "value": saved[key], "running": running,
                      "restart": applies(key) != NOW, "applies": applies(key),
                      "env_override": env_name(key) if key in from_env else None})
    pending = [i["key"] for i in items if i["restart"] and i["value"] != i["running"]]
    return {"path": str(config_path(service)), "file_error": file_error, "settings": items,
            "env_overrides": sorted(k for k in from_env if k in SETTINGS_BY_KEY),
            "pending_restart": pending}


def _check_changes(changes: dict[str, Any], from_env: set[str], service: Service,
                   saved: Config) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Each change validated; a changed file path also by the API's rules (core/config_paths.py): a file the
    service writes stays inside the data directory, a file it reads must be a regular file of its kind."""
    valid, problems = {}, []
    for key, value in changes.items():
        setting = SETTINGS_BY_KEY.get(key)
        if setting is None or setting.secret:
            problems.append({"field": key, "message": "unknown setting"})
        elif key in from_env:
            problems.append({"field": key, "message": f"set by the environment variable {env_name(key)}; "
                                                      "change it there"})
        else:
            try:
                valid[key] = setting.validate(value)
                if valid[key] != saved[key]:
                    check_path_change(setting, valid[key], service.data_dir)
            except ValueError as exc:
                valid.pop(key, None)
                problems.append({"field": key, "message": str(exc)})
    return valid, problems


def save_settings(service: Service, changes: dict[str, Any]) -> dict[str, Any]:
    """Validate every change (all problems named at once), write config.json, apply what can be applied."""
    from_env = set(env_overrides())
    saved, file_error = _saved_config(service)
    valid, problems = _check_changes(changes, from_env, service, saved)
    if problems:
        first = problems[0]
        raise ApiError(422, "validation_error", f"{first['field']}: {first['message']}", field=first["field"],
                       details=problems)
    if file_error:
        raise ApiError(409, "config_file_invalid", f"{config_path(service)} has an error; fix it first: {file_error}")
    changed = [key for key, value in valid.items() if saved[key] != value]
    path = config_path(service)
    try:
        update_user_file(path, valid)
    except OSError as exc:
        raise ApiError(500, "config_write_failed", f"could not write {path}: {exc}") from None
    live = {key: valid[key] for key in changed if applies(key) == NOW}
    if live:
        service.apply_settings(live)
    log.info("settings saved to %s: %s", path, ", ".join(changed) or "no change")
    document = settings_document(service)
    return {"changed": changed, "applied": sorted(live),
            "restart_required": [k for k in changed if applies(k) == SERVICE_RESTART],
            "agent_restart_required": [k for k in changed if applies(k) == AGENT_RESTART],
            "pending_restart": document["pending_restart"], "settings": document["settings"]}


def get_config(service: Service) -> dict[str, Any]:
    return settings_document(service)


def put_config(request: Request, service: Service) -> dict[str, Any]:
    body: ConfigChanges = request.body(ConfigChanges)
    return save_settings(service, body.changes)


ROUTES = (
    ApiRoute("GET", "/api/system/config", get_config, roles=ADMINS, tag="system",
             summary="Every declared setting: type, limits, default, saved and running value, restart (admin)",
             description="`value` is what config.json (and CRM_AGENT__* environment variables) give the next "
                         "start; `running` is what the service uses now; `applies` says when a change takes "
                         "effect: now, service restart, or desktop agent restart."),
    ApiRoute("PUT", "/api/system/config", put_config, roles=ADMINS, tag="system", body=ConfigChanges,
             summary="Change settings: validated, written atomically to config.json (admin)",
             responses={200: "saved", 409: "config.json has an error", 422: "a value is invalid "
                                                                            "(error.details names each key)"},
             description="Body `{\"changes\": {\"section.key\": value}}`. Nothing is written unless every "
                         "value is valid. The answer lists the keys applied now and those that need a restart. "
                         "File paths: a file the service writes (logging.file, database.path) must resolve inside "
                         "the data directory; a file it reads (TLS, CA, model) must be an existing regular file "
                         "of its kind; no path may hold a control character."),
)
