"""JWT verification (HS256) turning a bearer token into a ``Principal``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import jwt

from novaos.domain import ANONYMOUS_PREFIX, Principal, Tier, subject_refusal
from novaos.errors import UnauthenticatedError

_LEEWAY_S = 30


@dataclass(frozen=True)
class JwtConfig:
    secret: str
    require_auth: bool = True
    issuer: str = ""
    audience: str = ""
    expiry_s: int = 86400


class JwtAuthenticator:
    def __init__(self, config: JwtConfig) -> None:
        self._config = config

    @property
    def require_auth(self) -> bool:
        return self._config.require_auth

    def principal(self, authorization: str | None, client_ip: str) -> Principal:
        if not authorization:
            if not self._config.require_auth:
                return Principal(
                    user_id=f"{ANONYMOUS_PREFIX}{client_ip}", tier=Tier.FREE, anonymous=True
                )
            raise UnauthenticatedError("missing bearer token", reason="TOKEN_MISSING")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError(
                "authorization must be 'Bearer <token>'", reason="TOKEN_MALFORMED"
            )
        return self._verify(token.strip())

    def _verify(self, token: str) -> Principal:
        if not self._config.secret:  # REQUIRE_AUTH=false without JWT_SECRET
            raise UnauthenticatedError(
                "no token can be verified here (no JWT_SECRET): call without one",
                reason="TOKEN_INVALID",
            )
        options: dict[str, bool | Sequence[str]] = {"require": ["exp", "iat", "sub"]}
        try:
            claims = jwt.decode(
                token,
                self._config.secret,
                algorithms=["HS256"],
                issuer=self._config.issuer or None,
                audience=self._config.audience or None,
                options=options,  # type: ignore[arg-type]
                leeway=_LEEWAY_S,
            )
        except jwt.ExpiredSignatureError as exc:
            raise UnauthenticatedError("token expired", reason="TOKEN_EXPIRED") from exc
        except jwt.ImmatureSignatureError as exc:
            raise UnauthenticatedError("token not yet valid", reason="TOKEN_INVALID") from exc
        except jwt.InvalidTokenError as exc:
            raise UnauthenticatedError(f"invalid token: {exc}", reason="TOKEN_INVALID") from exc
        if not self._config.audience and "aud" in claims:
            # PyJWT lets an empty aud ("", [], null) pass when no audience is asked
            # for; any aud at all says the token was minted for some audience.
            raise UnauthenticatedError("invalid token: Invalid audience", reason="TOKEN_INVALID")
        return _to_principal(claims)

    def mint(
        self, sub: str, tier: str = "free", roles: Sequence[str] = (), ttl_s: int | None = None
    ) -> str:
        now = int(time.time())
        claims: dict[str, object] = {
            "sub": sub,
            "tier": Tier(tier).value,
            "roles": list(roles),
            "iat": now,
            "exp": now + (ttl_s if ttl_s is not None else self._config.expiry_s),
        }
        if self._config.issuer:
            claims["iss"] = self._config.issuer
        if self._config.audience:
            claims["aud"] = self._config.audience
        return jwt.encode(claims, self._config.secret, algorithm="HS256")


def _to_principal(claims: dict[str, object]) -> Principal:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise UnauthenticatedError("token has no subject", reason="TOKEN_INVALID")
    if refusal := subject_refusal(sub):
        raise UnauthenticatedError(refusal, reason="TOKEN_INVALID")
    try:
        tier = Tier(str(claims.get("tier", "free")))
    except ValueError as exc:
        raise UnauthenticatedError("unknown tier claim", reason="TOKEN_INVALID") from exc
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise UnauthenticatedError("roles claim must be a list of strings", reason="TOKEN_INVALID")
    return Principal(user_id=sub, tier=tier, roles=frozenset(roles))
