"""Team sync. On a hub (`agent.py serve --hub`): /api/sync/push, /api/sync/profiles and /api/sync/knowledge for
agents holding a hub token. On an agent: its sync status, a sync-now trigger and the conflict log for the tray and
settings.
"""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from api.plugins import Reply, Request
from api.roles import ADMINS, HUB_AGENTS, USERS
from api.routing import ApiRoute
from api.schemas import SyncPush
from core.clock import iso
from crm.service import Service
from storage import hub as hub_rows
from storage import knowledge as knowledge_rows
from storage.sync_state import list_conflicts

MAX_UPTO = 2**63 - 1


def push(request: Request, service: Service) -> dict[str, Any]:
    require_hub(service)
    body: SyncPush = request.body(SyncPush)
    if any(row.seq > body.upto for row in body.rows):
        raise ApiError(422, "validation_error", "rows: a row's seq is above upto", field="rows")
    agent_id = int(request.principal.subject)
    rows = [{"t": row.t, "id": row.id, "seq": row.seq, "data": row.data, "deleted": row.deleted} for row in body.rows]
    try:
        hub_rows.store_push(service.db, agent_id, rows, body.upto, iso(service.clock.now()))
    except hub_rows.HubError as exc:
        raise ApiError(422, "validation_error", str(exc), field="rows") from None
    return {"acknowledged_seq": body.upto, "rows": len(rows)}


def profiles(request: Request, service: Service) -> dict[str, Any]:
    require_hub(service)
    return hub_rows.profiles_since(service.db, request.query_int("after_seq", 0, 0, MAX_UPTO),
                                   request.query_int("after_id", 0, 0, MAX_UPTO),
                                   request.query_int("limit", 500, 1, 5000))


def knowledge(request: Request, service: Service) -> dict[str, Any]:
    require_hub(service)
    after_uid = request.query("after_uid", "") or ""
    if len(after_uid) > 64:
        raise ApiError(422, "validation_error", "after_uid: at most 64 characters", field="after_uid")
    return knowledge_rows.hub_entries_since(service.db, request.query_int("after_seq", 0, 0, MAX_UPTO), after_uid,
                                            request.query_int("limit", 500, 1, 5000))


def status(service: Service) -> dict[str, Any]:
    return sync_status(service)


def sync_now(service: Service) -> Reply:
    if service.sync is None or not service.sync.settings.configured:
        raise ApiError(409, "sync_not_configured",
                       "sync is not configured: set sync.hub_url and the hub token (agent.py sync set-token)")
    service.sync.request_round()
    return Reply({"requested": True, **service.sync.status()}, 202)


def conflicts(request: Request, service: Service) -> dict[str, Any]:
    return {"items": list_conflicts(service.db, request.query_int("limit", 100, 1, 1000))}


def require_hub(service: Service) -> None:
    if not service.is_hub:
        raise ApiError(404, "not_a_hub", "this service is not a team hub (agent.py serve --hub)")


def sync_status(service: Service) -> dict[str, Any]:
    if service.is_hub:
        return hub_rows.hub_summary(service.db)
    return service.sync.status() if service.sync else {"role": "agent", "enabled": False}


ROUTES = (
    ApiRoute("POST", "/api/sync/push", push, roles=HUB_AGENTS, tag="sync", body=SyncPush,
             summary="Push a batch of changed rows (hub; agent token)",
             description="Idempotent upserts keyed by (agent, table, row id); a stored row is replaced only by "
                         "a newer change, a tombstone (`deleted`) included, so a late older push never brings a "
                         "deleted row back. The answer names the acknowledged change_seq (= upto).",
             responses={401: "not a hub agent token", 404: "not a hub", 413: "batch too large",
                        422: "invalid batch"}),
    ApiRoute("GET", "/api/sync/profiles", profiles, roles=HUB_AGENTS, tag="sync",
             summary="Shared customer profiles changed after a cursor (hub; agent token)",
             query=(("after_seq", "integer", "cursor: the hub change_seq of the last profile seen"),
                    ("after_id", "integer", "cursor: the id of the last profile seen"),
                    ("limit", "integer", "1-5000")),
             responses={401: "not a hub agent token", 404: "not a hub"}),
    ApiRoute("GET", "/api/sync/knowledge", knowledge, roles=HUB_AGENTS, tag="sync",
             summary="The team's knowledge entries and deletions changed after a cursor (hub; agent token)",
             description="Items are {uid, values, field_hlc, deleted: false} or {uid, deleted: true}, oldest "
                         "first; the next cursor is (next_seq, next_uid).",
             query=(("after_seq", "integer", "cursor: the hub change_seq of the last item seen"),
                    ("after_uid", "string", "cursor: the uid of the last item seen"),
                    ("limit", "integer", "1-5000")),
             responses={401: "not a hub agent token", 404: "not a hub", 422: "invalid cursor"}),
    ApiRoute("GET", "/api/sync/status", status, tag="sync", roles=USERS,
             summary="Sync status: last success, pending rows, last error, cursors"),
    ApiRoute("POST", "/api/sync/now", sync_now, roles=ADMINS, tag="sync",
             summary="Start a sync round with the hub now (admin)",
             responses={202: "round requested", 409: "sync not configured"}),
    ApiRoute("GET", "/api/sync/conflicts", conflicts, roles=ADMINS, tag="sync",
             summary="Profile values that lost a last-writer-wins merge, newest first (admin)",
             query=(("limit", "integer", "1-1000"),)),
)
