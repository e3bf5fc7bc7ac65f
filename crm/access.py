"""Access tokens (PyJWT, HS256 pinned), the local token for tray and windows, and login throttling."""

from __future__ import annotations

import hmac
import math
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

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
    token_id: str | None = None  # a JWT's jti: what logout revokes
    version: int | None = None  # a JWT's ver: the user's token_version when it was issued
    expires_at: int | None = None  # a JWT's exp (unix seconds)

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


class Standing(Protocol):
    """What the users table says about a token's user (storage.users.TokenStanding)."""

    role: str
    token_version: int
    revoked: bool


# standing(username, jti): the active user's role, token version and whether that jti was logged out; None when
# no active user has that name.
StandingLookup = Callable[[str, str], "Standing | None"]


def extension_principal(extension_id: int, origin: str) -> Principal:
    return Principal(str(extension_id), EXTENSION, "extension", extension_id=extension_id, origin=origin)


def hub_agent_principal(agent_id: int) -> Principal:
    return Principal(str(agent_id), HUB_AGENT, "hub")


class TokenService:
    """Access tokens (JWT, HS256) for users, and the local token of the tray and windows (not a JWT: a random
    string compared in constant time, unaffected by the JWT key).

    A token is accepted when its signature, issuer and expiry hold AND the users table still agrees: the user is
    active with the token's role, its `ver` is the user's token_version (bumped by a password change, disabling
    or "revoke sessions"), and its `jti` was not logged out. That lookup runs on every request, after the
    signature cache (the service's is storage.users.TokenStandings: answers remembered only while the database is
    unchanged), so a revocation made by anyone writing the database (the CLI too) holds at the next request.
    """

    def __init__(self, secret: str, expiry_s: int, local_token: str, clock: Clock,
                 standing: StandingLookup | None = None) -> None:
        """standing: see StandingLookup; None (unit tests only) skips the users table."""
        self._check_secret(secret)
        self._secret = secret
        self._local_token = local_token
        self.expiry_s = expiry_s
        self._clock = clock
        self._standing = standing
        # Verified tokens until their exp: HS256 verification costs ~15 us on every request otherwise.
        self._verified: OrderedDict[str, Principal] = OrderedDict()
        self._revocation_listeners: list[Callable[[], None]] = []

    @staticmethod
    def _check_secret(secret: str) -> None:
        if len(secret) < 64:  # 32 random bytes, hex
            raise ValueError("JWT secret must be at least 32 random bytes")

    def issue(self, username: str, role: str, version: int = 0) -> str:
        """version: the user's token_version now (storage.users); the token ends when it changes."""
        now = int(self._clock.now().timestamp())
        claims = {"sub": username, "role": role, "ver": version, "jti": secrets.token_urlsafe(16),
                  "iat": now, "nbf": now, "exp": now + self.expiry_s, "iss": ISSUER}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def rotate(self, secret: str) -> None:
        """Sign and verify with a new key from now on: every access token signed with the old one ends at once
        (the cache of verified tokens goes with it). The local token and extension tokens are not JWTs."""
        self._check_secret(secret)
        self._secret = secret
        self._verified.clear()
        self.sessions_revoked()

    def on_revocation(self, listener: Callable[[], None]) -> None:
        """Call listener after tokens were revoked in this process (open WebSockets re-check at once; they also
        re-check on a timer for revocations written by other processes)."""
        self._revocation_listeners.append(listener)

    def sessions_revoked(self) -> None:
        for listener in list(self._revocation_listeners):
            listener()

    def authenticate(self, token: str) -> Principal:
        """Accept the local token or a valid access token; raise InvalidToken otherwise."""
        if not token:
            raise InvalidToken("missing token")
        if hmac.compare_digest(token.encode(), self._local_token.encode()):
            return Principal("local", LOCAL, "local")
        principal = self._verified.get(token)
        if principal is not None:
            if self._clock.now().timestamp() >= principal.expires_at:
                del self._verified[token]
                raise InvalidToken("token expired")
        else:
            principal = self._verify_jwt(token)
            self._verified[token] = principal
            while len(self._verified) > 1024:
                self._verified.popitem(last=False)
        self._check_standing(principal)
        return principal

    def _check_standing(self, principal: Principal) -> None:
        if self._standing is None:
            return
        standing = self._standing(principal.subject, principal.token_id)
        if standing is None or standing.role != principal.role:
            raise InvalidToken("invalid token")  # no such active user, or not with this role
        if standing.revoked or standing.token_version != principal.version:
            raise InvalidToken("token revoked")

    def _verify_jwt(self, token: str) -> Principal:
        try:
            # ver and jti are required: a token issued before sessions became revocable has neither, could not
            # be logged out, and is refused (its user logs in again once).
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss", "ver", "jti"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("invalid token") from None
        role, version, jti = claims.get("role"), claims["ver"], claims["jti"]
        if (role not in (ADMIN, AGENT) or not isinstance(claims["sub"], str) or type(version) is not int
                or not isinstance(jti, str) or not jti):
            raise InvalidToken("invalid token")
        return Principal(claims["sub"], role, "jwt", token_id=jti, version=version, expires_at=int(claims["exp"]))


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
