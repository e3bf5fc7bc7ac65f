"""Least privilege: the named sets of roles that routes declare (each ApiRoute's `roles`).

This is the one place a reviewer reads to know who may call what: every route in api/routes/ names one of
these sets, ApiPlugin enforces it from that declaration only, and the OpenAPI document publishes it per
operation as `x-roles` (tests/test_roles.py walks the served document with a real token of every role).

The roles (crm/access.py): admin and agent (a user's JWT), local (the desktop's local token: admin rights on
its own machine), extension (a paired browser extension, from its bound Origin), hub-agent (a team hub's agent
token, known only on a hub). ANONYMOUS is not a role a token carries: a route open to it reads no token.
"""

from __future__ import annotations

from crm.access import ADMIN, AGENT, EXTENSION, HUB_AGENT, LOCAL, ROLES

ANONYMOUS = "anonymous"

PUBLIC = frozenset({ANONYMOUS})  # no token read: health, login, pairing (its Origin is checked), this document
ADMINS = frozenset({ADMIN, LOCAL})  # settings, users, backups, logs, pairing codes, sync controls
USERS = frozenset({ADMIN, AGENT, LOCAL})  # the CRM's data: messages, customers, conversations, metrics
USERS_AND_EXTENSION = USERS | {EXTENSION}  # what the extension's capture and panel need, and users too
EXTENSION_ONLY = frozenset({EXTENSION})  # about the calling extension itself
HUB_AGENTS = frozenset({HUB_AGENT})  # a hub's push and pull

# Who may hold a WebSocket session (/ws; the upgrade is handled before the routes, in api/websocket.py).
WEBSOCKET_SESSIONS = USERS_AND_EXTENSION

# The tokens the service itself issues; a hub's agent tokens are another realm (storage/hub.py): a route is
# asked only of the issuers of the roles it declares, so a token of the other realm is unknown there (401).
SERVICE_ROLES = frozenset({ADMIN, AGENT, LOCAL, EXTENSION})


def check_declaration(roles: frozenset[str]) -> None:
    """ValueError unless roles is a usable declaration: known roles, and ANONYMOUS only alone."""
    if not isinstance(roles, frozenset) or not roles:
        raise ValueError("a route must declare a non-empty frozenset of roles (api/roles.py)")
    unknown = roles - set(ROLES) - {ANONYMOUS}
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; known: {', '.join(ROLES)} or {ANONYMOUS}")
    if ANONYMOUS in roles and len(roles) > 1:
        raise ValueError(f"{ANONYMOUS} means no token is read: it cannot be combined with other roles")
    if EXTENSION in roles and ADMIN in roles and AGENT not in roles:
        # A browser extension never gets more than an agent account: no admin-only route is opened to it.
        raise ValueError("an admin-only route cannot be opened to the extension role")
