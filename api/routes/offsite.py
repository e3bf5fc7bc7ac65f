"""Off-site backups on a hub (`agent.py serve --hub`): agents upload their encrypted backup files in parts and
download them again on a new machine. Each agent token sees only its own agent's backups: another agent's
name is as absent as one nobody used (404). The hub never sees the key (docs/decisions.md).
"""

from __future__ import annotations

from typing import Any

import bottle

from api.errors import ApiError
from api.plugins import Reply, Request
from api.roles import HUB_AGENTS
from api.routes.sync import require_hub
from api.routing import ApiRoute
from api.schemas import HubBackupStart
from core.clock import iso
from crm.service import Service
from storage import hub_backups
from storage.hub_backups import HubBackupError, UploadStart


def _agent_id(request: Request) -> int:
    return int(request.principal.subject)


def _refusal(exc: HubBackupError) -> ApiError:
    return ApiError(exc.status, exc.code, str(exc))


def start_upload(request: Request, service: Service) -> Reply:
    require_hub(service)
    body: HubBackupStart = request.body(HubBackupStart)
    upload = UploadStart(body.name, body.size_bytes, body.sha256, body.key_id, body.created_at)
    try:
        state = hub_backups.start_upload(service.db, _agent_id(request), upload,
                                         service.config["sync.hub_backup_max_bytes"], iso(service.clock.now()))
    except HubBackupError as exc:
        raise _refusal(exc) from None
    return Reply(state, 200 if state["complete"] else 201)


def put_part(request: Request, service: Service, name: str, part: int) -> dict[str, Any]:
    require_hub(service)
    try:
        hub_backups.put_part(service.db, _agent_id(request), name, part, request.raw_body())
    except HubBackupError as exc:
        raise _refusal(exc) from None
    return {"name": name, "part": part}


def complete_upload(request: Request, service: Service, name: str) -> dict[str, Any]:
    require_hub(service)
    try:
        return hub_backups.complete_upload(service.db, _agent_id(request), name,
                                           service.config["sync.hub_backups_keep"], iso(service.clock.now()))
    except HubBackupError as exc:
        raise _refusal(exc) from None


def list_backups(request: Request, service: Service) -> dict[str, Any]:
    require_hub(service)
    return {"items": hub_backups.list_complete(service.db, _agent_id(request))}


def download(request: Request, service: Service, name: str) -> bottle.HTTPResponse:
    """The file, streamed part by part; the agent checks its SHA-256 and then every chunk's GCM tag."""
    require_hub(service)
    try:
        row = hub_backups.complete_backup(service.db, _agent_id(request), name)
    except HubBackupError as exc:
        raise _refusal(exc) from None
    # A part removed while this streams (retention) ends the body early: the agent sees fewer bytes than
    # Content-Length and retries, so no partial file is ever taken for the backup.
    body = hub_backups.iter_parts(service.db, int(row["id"]), int(row["parts"]))
    response = bottle.HTTPResponse(body=body, status=200)
    response.set_header("Content-Type", "application/octet-stream")
    response.set_header("Content-Length", str(int(row["size_bytes"])))
    response.set_header("X-Content-SHA256", row["sha256"])
    return response


_HUB_ONLY = {401: "not a hub agent token", 404: "not a hub, or no such backup of this agent"}

ROUTES = (
    ApiRoute("GET", "/api/sync/backups", list_backups, roles=HUB_AGENTS, tag="sync",
             summary="This agent's complete off-site backups on the hub, newest first (hub; agent token)",
             responses=_HUB_ONLY),
    ApiRoute("POST", "/api/sync/backups", start_upload, roles=HUB_AGENTS, tag="sync", body=HubBackupStart,
             summary="Start or resume uploading an encrypted backup (hub; agent token)",
             description="Answers the part size, the number of parts and the parts already received; 200 with "
                         "complete=true when this backup is already on the hub. Starting drops this agent's "
                         "other unfinished upload.",
             responses={**_HUB_ONLY, 201: "upload started or resumed", 413: "larger than sync.hub_backup_max_bytes",
                        422: "invalid start"}),
    ApiRoute("PUT", "/api/sync/backups/<name>/parts/<part:int>", put_part, roles=HUB_AGENTS, tag="sync",
             summary="Upload one part of an encrypted backup, 1-based (hub; agent token; application/octet-stream)",
             description="Every part but the last is exactly part_bytes long. Repeating a part replaces it.",
             responses={**_HUB_ONLY, 413: "part too large", 422: "wrong part number or size"}),
    ApiRoute("POST", "/api/sync/backups/<name>/complete", complete_upload, roles=HUB_AGENTS, tag="sync",
             summary="Finish an upload: checked whole, then the agent's oldest beyond sync.hub_backups_keep go "
                     "(hub; agent token)",
             responses={**_HUB_ONLY, 409: "parts missing, or size or SHA-256 differ (upload again)",
                        422: "not an encrypted backup with the announced key id"}),
    ApiRoute("GET", "/api/sync/backups/<name>", download, roles=HUB_AGENTS, tag="sync",
             summary="Download one of this agent's complete backups (hub; agent token; application/octet-stream)",
             responses=_HUB_ONLY),
)
