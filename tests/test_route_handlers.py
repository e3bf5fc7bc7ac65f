"""Route handlers called as plain functions (no HTTP server, no Bottle): each reads alone and tests alone.

A real Service (runtime.build.build_service on a temporary SQLite data directory) and a minimal Request are all
a handler needs. Also here: how ApiPlugin hands handlers their dependencies, and the Service's methods that
change its state (routes never assign its fields).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import bottle
import orjson
import pytest

from api.errors import ApiError
from api.plugins import ApiPlugin, Reply, Request, handler_arguments
from api.roles import PUBLIC
from api.routes import config as config_routes
from api.routes import messages as message_routes
from api.routes import system as system_routes
from core import events
from core.clock import FakeClock
from core.config import load_config
from core.paths import DataDir
from crm.access import Principal, TokenService
from crm.ratelimit import RateLimiter
from crm.service import Service
from runtime.build import build_service
from storage import messages as message_rows
from tests.helpers import message

LOCAL = Principal("local", "local", "local")


@pytest.fixture
def service(tmp_path) -> Iterator[Service]:
    built = build_service(load_config(None).with_overrides({"ai.llm_enabled": False}), DataDir(tmp_path / "agent"))
    root_level = logging.getLogger().level
    yield built
    built.close()
    logging.getLogger().setLevel(root_level)  # a test may apply logging.level


def json_request(body: Any = None, query: str = "", principal: Principal | None = LOCAL) -> Request:
    """What the plugin would hand a handler for a JSON request."""
    raw = b"" if body is None else orjson.dumps(body)
    environ = {"REQUEST_METHOD": "POST", "QUERY_STRING": query, "CONTENT_TYPE": "application/json",
               "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw)}
    return Request(environ, principal)


def published(service: Service, event_type: str) -> list[dict[str, Any]]:
    backlog, _ = service.bus.subscribe(lambda event: None, since=0)
    return [event["data"] for event in backlog if event["type"] == event_type]


# -- handlers as functions ---------------------------------------------------------------------------

def test_capture_stores_the_message_and_answers_a_replay_as_a_duplicate(service):
    body = message(content="Quero comprar dois", name="Joana")
    reply = message_routes.capture(json_request(body), service)
    assert isinstance(reply, Reply) and reply.status == 201
    assert reply.data["duplicate"] is False
    stored = message_rows.get_message(service.db, reply.data["id"])
    assert (stored["message_id"], stored["content"], stored["customer_name"]) == \
        (body["message_id"], "Quero comprar dois", "Joana")
    assert [e["id"] for e in published(service, events.MESSAGE_CAPTURED)] == [reply.data["id"]]

    again = message_routes.capture(json_request(body), service)
    assert again.status == 200 and again.data["duplicate"] is True and again.data["id"] == reply.data["id"]
    assert service.db.scalar("SELECT COUNT(*) FROM messages") == 1


def test_capture_names_the_invalid_field(service):
    with pytest.raises(ApiError) as caught:
        message_routes.capture(json_request(message(direction="sideways")), service)
    assert (caught.value.status, caught.value.field) == (422, "direction")
    assert service.db.scalar("SELECT COUNT(*) FROM messages") == 0


def test_set_capture_pauses_through_the_service_and_captures_are_refused(service):
    assert system_routes.set_capture(json_request({"paused": True}), service) == {"paused": True}
    assert service.capture_paused is True
    assert published(service, events.CAPTURE_STATE) == [{"paused": True}]
    with pytest.raises(ApiError) as caught:
        message_routes.capture(json_request(message()), service)
    assert (caught.value.status, caught.value.code) == (503, "capture_paused")
    assert service.db.scalar("SELECT COUNT(*) FROM messages") == 0

    # Asking again publishes again (the asking client sees its state confirmed); resuming lets captures in.
    system_routes.set_capture(json_request({"paused": True}), service)
    system_routes.set_capture(json_request({"paused": False}), service)
    assert published(service, events.CAPTURE_STATE) == [{"paused": True}, {"paused": True}, {"paused": False}]
    assert message_routes.capture(json_request(message()), service).status == 201


def test_put_config_saves_and_applies_a_live_setting_to_the_running_service(service):
    assert service.monitor.settings.cpu_percent != 55
    answer = config_routes.put_config(json_request({"changes": {"monitor.cpu_percent": 55, "server.port": 9191}}),
                                      service)
    assert answer["applied"] == ["monitor.cpu_percent"] and answer["restart_required"] == ["server.port"]
    assert service.monitor.settings.cpu_percent == 55 and service.config["monitor.cpu_percent"] == 55
    assert service.config["server.port"] != 9191  # saved for the next start only
    saved = json.loads(service.data_dir.config_file.read_text())
    assert saved["monitor"]["cpu_percent"] == 55 and saved["server"]["port"] == 9191


def test_put_config_capture_paused_publishes_only_when_the_running_state_changes(service):
    system_routes.set_capture(json_request({"paused": True}), service)  # running: paused; saved: not
    answer = config_routes.put_config(json_request({"changes": {"capture.paused": True}}), service)
    assert answer["applied"] == ["capture.paused"] and service.capture_paused is True
    assert published(service, events.CAPTURE_STATE) == [{"paused": True}]  # only set_capture's
    config_routes.put_config(json_request({"changes": {"capture.paused": False}}), service)
    assert service.capture_paused is False
    assert published(service, events.CAPTURE_STATE) == [{"paused": True}, {"paused": False}]


def test_get_config_shows_the_running_pause_beside_the_saved_value(service):
    service.set_capture_paused(True)
    items = {item["key"]: item for item in config_routes.get_config(service)["settings"]}
    assert (items["capture.paused"]["value"], items["capture.paused"]["running"]) == (False, True)


# -- the Service's state changes ---------------------------------------------------------------------

def test_apply_settings_refuses_a_key_that_needs_a_restart_and_applies_nothing(service):
    with pytest.raises(ValueError, match=r"server\.port"):
        service.apply_settings({"monitor.cpu_percent": 55, "server.port": 9191})
    assert service.config["monitor.cpu_percent"] != 55 and service.monitor.settings.cpu_percent != 55


def test_database_settings_reach_the_maintenance_job(service):
    service.apply_settings({"database.max_backups": 2})
    assert service.maintenance.config["database.max_backups"] == 2


def test_desktop_clients_are_counted_through_the_service(service):
    service.desktop_client_connected()
    service.desktop_client_connected()
    service.desktop_client_disconnected()
    assert service.desktop_clients == 1


# -- dependencies by parameter name ---------------------------------------------------------------

def test_handler_arguments_gives_each_handler_only_what_it_names():
    service = object()

    def one(request, service, id):  # noqa: A002
        pass

    def two(service):
        pass

    assert handler_arguments(one, "/x/<id:int>", {"service": service, "app": None}) == ({"service": service}, True)
    assert handler_arguments(two, "/x", {"service": service}) == ({"service": service}, False)


@pytest.mark.parametrize(("handler", "rule", "problem"), [
    (lambda database: None, "/x", "asks for 'database'"),
    (lambda service: None, "/x/<id:int>", "no parameter for the path's id"),
    (lambda **anything: None, "/x", "must be an ordinary parameter"),
])
def test_a_handler_asking_for_what_nobody_provides_fails_when_its_route_is_prepared(handler, rule, problem):
    clock = FakeClock()
    app = bottle.Bottle()
    app.install(ApiPlugin(TokenService("s" * 64, 600, "local-token", clock), RateLimiter(clock, 100, 100),
                          dependencies={"service": object()}))
    app.route(rule, "GET", handler, roles=PUBLIC)
    with pytest.raises(ValueError, match=problem):
        app.routes[0].prepare()  # create_app prepares every route, so this happens at start-up


def test_the_plugin_calls_a_handler_with_the_request_the_dependency_and_the_url_wildcard():
    clock = FakeClock()
    marker = object()
    seen: dict[str, Any] = {}

    def handler(request: Request, service: object, id: int) -> dict[str, Any]:  # noqa: A002
        seen.update(service=service, id=id, q=request.query("q"))
        return {"ok": True}

    app = bottle.Bottle()
    app.install(ApiPlugin(TokenService("s" * 64, 600, "local-token", clock), RateLimiter(clock, 100, 100),
                          dependencies={"service": marker}))
    app.route("/things/<id:int>", "GET", handler, roles=PUBLIC)
    status: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/things/7", "QUERY_STRING": "q=hello",
               "wsgi.input": io.BytesIO(b""), "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO()}
    body = b"".join(app(environ, lambda line, headers, exc_info=None: status.append(line)))
    assert status == ["200 OK"] and orjson.loads(body) == {"ok": True}
    assert seen == {"service": marker, "id": 7, "q": "hello"}


def test_a_fixed_dependency_may_not_be_called_request():
    clock = FakeClock()
    with pytest.raises(ValueError, match="request"):
        ApiPlugin(TokenService("s" * 64, 600, "local-token", clock), RateLimiter(clock, 100, 100),
                  dependencies={"request": object()})
