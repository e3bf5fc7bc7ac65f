"""Access tokens (PyJWT, HS256 pinned), the local token for tray and windows, and login throttling."""

from __future__ import annotations

import hmac
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from core.clock import Clock

ISSUER = "crm-agent"
ALGORITHM = "HS256"

# The roles a token can carry (api/roles.py declares which routes each may call). A user's JWT says admin or
# agent; the desktop's local token is local (admin rights on its own machine); a paired browser extension's
# token is extension; a team hub's agent token is hub-agent.
ADMIN = "admin"
AGENT = "agent"
LOCAL = "local"
EXTENSION = "extension"
HUB_AGENT = "hub-agent"
ROLES = (ADMIN, AGENT, LOCAL, EXTENSION, HUB_AGENT)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user from a JWT, the local desktop client holding the local token, a paired
    browser extension (role and kind "extension", bound to the origin it paired from), or a hub's agent."""

    subject: str
    role: str  # one of ROLES
    kind: str  # jwt | local | extension | hub
    extension_id: int | None = None
    origin: str | None = None  # an extension's bound Origin: every request must carry it

    @property
    def is_admin(self) -> bool:
        return self.role in (ADMIN, LOCAL)

    @property
    def is_extension(self) -> bool:
        return self.kind == "extension"

    @property
    def rate_key(self) -> str:
        return f"{self.kind}:{self.subject}"


class InvalidToken(Exception):
    pass


def extension_principal(extension_id: int, origin: str) -> Principal:
    return Principal(str(extension_id), EXTENSION, "extension", extension_id=extension_id, origin=origin)


def hub_agent_principal(agent_id: int) -> Principal:
    return Principal(str(agent_id), HUB_AGENT, "hub")


class TokenService:
    def __init__(self, secret: str, expiry_s: int, local_token: str, clock: Clock,
                 user_role: Callable[[str], str | None] | None = None) -> None:
        """user_role(username): the role of that active user, None when there is none (checked on every
        request: a signed token for a user that does not exist, or no longer has that role, is refused)."""
        if len(secret) < 64:  # 32 random bytes, hex
            raise ValueError("JWT secret must be at least 32 random bytes")
        self._secret = secret
        self._local_token = local_token
        self.expiry_s = expiry_s
        self._clock = clock
        self._user_role = user_role
        # Verified tokens until their exp: HS256 verification costs ~15 us on every request otherwise.
        self._verified: OrderedDict[str, tuple[Principal, int]] = OrderedDict()

    def issue(self, username: str, role: str) -> str:
        now = int(self._clock.now().timestamp())
        claims = {"sub": username, "role": role, "iat": now, "nbf": now, "exp": now + self.expiry_s, "iss": ISSUER}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def authenticate(self, token: str) -> Principal:
        """Accept the local token or a valid access token; raise InvalidToken otherwise."""
        if not token:
            raise InvalidToken("missing token")
        if hmac.compare_digest(token.encode(), self._local_token.encode()):
            return Principal("local", LOCAL, "local")
        cached = self._verified.get(token)
        if cached is not None:
            if self._clock.now().timestamp() >= cached[1]:
                del self._verified[token]
                raise InvalidToken("token expired")
            principal = cached[0]
        else:
            principal, expires = self._verify_jwt(token)
            self._verified[token] = (principal, expires)
            while len(self._verified) > 1024:
                self._verified.popitem(last=False)
        if self._user_role is not None and self._user_role(principal.subject) != principal.role:
            raise InvalidToken("invalid token")  # no such active user, or not with this role
        return principal

    def _verify_jwt(self, token: str) -> tuple[Principal, int]:
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("invalid token") from None
        role = claims.get("role")
        if role not in (ADMIN, AGENT) or not isinstance(claims["sub"], str):
            raise InvalidToken("invalid token")
        return Principal(claims["sub"], role, "jwt"), int(claims["exp"])


class LoginGuard:
    """Growing lockout per username after repeated failures (doubles each time, capped at one hour)."""

    def __init__(self, clock: Clock, max_failures: int, lockout_s: int, capacity: int = 10000) -> None:
        self._clock = clock
        self._max_failures = max_failures
        self._lockout_s = lockout_s
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # user -> (count, locked_until)
        self._capacity = capacity

    def retry_after(self, username: str) -> int:
        """Seconds until this username may try again (0 = now)."""
        entry = self._failures.get(username.lower())
        if entry is None:
            return 0
        remaining = entry[1] - self._clock.monotonic()
        return max(0, math.ceil(remaining))

    def record_failure(self, username: str) -> int:
        key = username.lower()
        count = self._failures.get(key, (0, 0.0))[0] + 1
        locked_until = 0.0
        if count >= self._max_failures:
            delay = min(3600.0, self._lockout_s * 2 ** (count - self._max_failures))
            locked_until = self._clock.monotonic() + delay
        self._failures[key] = (count, locked_until)
        self._failures.move_to_end(key)
        while len(self._failures) > self._capacity:
            self._failures.popitem(last=False)
        return self.retry_after(username)

    def record_success(self, username: str) -> None:
        self._failures.pop(username.lower(), None)
