"""POST /api/security/rotate-keys: a new JWT signing key without a restart (`agent.py security rotate-keys` calls
it with the local token when the service runs)."""

from __future__ import annotations

from typing import Any

from api.roles import ADMINS
from api.routing import ApiRoute
from crm.service import Service


def rotate_keys(service: Service) -> dict[str, Any]:
    service.rotate_signing_key()
    return {"rotated": True}


ROUTES = (
    ApiRoute("POST", "/api/security/rotate-keys", rotate_keys, roles=ADMINS, tag="security",
             summary="Rotate the JWT signing key (admin): every access token ends, the caller's too; the local "
                     "token and paired extensions keep working",
             responses={200: "rotated"},
             response_schema={"type": "object", "required": ["rotated"], "properties": {"rotated": {"const": True}}}),
)
