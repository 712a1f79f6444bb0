"""Ack tokens: a signed, single-use permission to answer one soft-vetoed message.

A token is ``base64url(payload) . base64url(HMAC-SHA256(payload))``. The payload
binds the user, the conversation, a keyed hash of the message and the veto
reason, with a nonce, creation time and expiry. Redeeming checks signature,
time, user, conversation and message first, and only then burns the nonce with
one atomic ``SET NX`` in the shared store, so a failed attempt stores nothing
and a token works once across every worker and pod.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping

from novaos.errors import AckInvalidError
from novaos.ports import KeyValueStore

TOKEN_TTL_S = 600
CLOCK_SKEW_S = 30
NONCE_PREFIX = "ack:nonce:"  # a burned token's nonce, kept until the token expires


def is_nonce_key(key: str) -> bool:
    """A burned ack nonce: a write made during a Redis outage must reach Redis
    afterwards, or the token could be redeemed again once Redis is back."""
    return key.startswith(NONCE_PREFIX)


_VERSION = 1
_MAX_TOKEN_CHARS = 4096
_ACK_INFO = b"novaos ack tokens v1"

_PROMPTS: Mapping[str, str] = {
    "finance": "I understand I could lose money I cannot afford to lose, and I want to go on.",
    "medication": (
        "I understand changing or stopping medication without my clinician can harm me, "
        "and I want to go on."
    ),
    "health": "I understand skipping care I need can harm me, and I want to go on.",
    "legal": "I understand acting without a lawyer can hurt my case, and I want to go on.",
    "impulsive": "I understand this decision is hard to undo, and I want to go on.",
}
_FIELDS: Mapping[str, type] = {
    "v": int,
    "u": str,
    "c": str,
    "m": str,
    "r": str,
    "n": str,
    "iat": int,
    "exp": int,
}
_DEFAULT_PROMPT = "I understand the risks of this request and want to go on."


def derive_ack_secret(ack_secret: str | None, jwt_secret: str | None) -> bytes | None:
    """ACK_SECRET as is, else an HKDF-SHA256 subkey of JWT_SECRET (never the JWT key itself)."""
    if ack_secret:
        return ack_secret.encode()
    if not jwt_secret:
        return None
    prk = hmac.new(b"novaos-ack-salt", jwt_secret.encode(), hashlib.sha256).digest()
    return hmac.new(prk, _ACK_INFO + b"\x01", hashlib.sha256).digest()


def ack_prompt(reason: str) -> str:
    for key, prompt in _PROMPTS.items():
        if key in reason:
            return prompt
    return _DEFAULT_PROMPT


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AckTokens:
    def __init__(
        self,
        secret: bytes,
        store: KeyValueStore,
        clock: Callable[[], float] = time.time,
        *,
        ttl_s: int = TOKEN_TTL_S,
        skew_s: int = CLOCK_SKEW_S,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("ack secret must be at least 32 bytes")
        self._key = hmac.new(secret, b"sign", hashlib.sha256).digest()
        self._message_key = hmac.new(secret, b"message", hashlib.sha256).digest()
        self._store = store
        self._clock = clock
        self._ttl_s = ttl_s
        self._skew_s = skew_s

    def issue(
        self, user: str, conversation_id: str, message: str, reason: str
    ) -> tuple[str, str, int]:
        """A token for this exact message, the sentence to acknowledge, and its expiry."""
        now = int(self._clock())
        payload = {
            "v": _VERSION,
            "u": user,
            "c": conversation_id,
            "m": self._message_hash(message),
            "r": reason,
            "n": _b64(secrets.token_bytes(16)),
            "iat": now,
            "exp": now + self._ttl_s,
        }
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._sign(body)}", ack_prompt(reason), now + self._ttl_s

    async def redeem(self, token: str, user: str, conversation_id: str, message: str) -> str:
        """The veto reason the token acknowledges; raises ``AckInvalidError`` otherwise."""
        payload = self._verified_payload(token)
        self._check_context(payload, user, conversation_id, message)
        remaining_ms = (int(str(payload["exp"])) + self._skew_s - int(self._clock())) * 1000
        key = f"{NONCE_PREFIX}{payload['n']}"
        # Burn last: every check above has passed, so a refusal here means a replay.
        if not await self._store.set(key, b"1", ttl_ms=max(remaining_ms, 1000), nx=True):
            raise AckInvalidError("ack token already used")
        return str(payload["r"])

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def _message_hash(self, message: str) -> str:
        return _b64(hmac.new(self._message_key, message.strip().encode(), hashlib.sha256).digest())

    def _verified_payload(self, token: str) -> dict[str, object]:
        if not token or len(token) > _MAX_TOKEN_CHARS or token.count(".") != 1:
            raise AckInvalidError("malformed ack token")
        body, signature = token.split(".")
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            raise AckInvalidError("ack token signature does not match")
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, binascii.Error) as exc:
            raise AckInvalidError("malformed ack token") from exc
        if not isinstance(payload, dict) or any(
            not isinstance(payload.get(k), t) for k, t in _FIELDS.items()
        ):
            raise AckInvalidError("malformed ack token")
        if payload["v"] != _VERSION:
            raise AckInvalidError("unsupported ack token version")
        return payload

    def _check_context(
        self, payload: Mapping[str, object], user: str, conversation_id: str, message: str
    ) -> None:
        now = self._clock()
        iat, exp = int(str(payload["iat"])), int(str(payload["exp"]))
        if iat > now + self._skew_s:
            raise AckInvalidError("ack token is not valid yet")
        if now > exp + self._skew_s:
            raise AckInvalidError("ack token expired")
        if exp - iat > self._ttl_s:
            # Signed, but made to live longer than this gateway grants (another
            # replica's setting, or a leaked key): the nonce would be kept as long.
            raise AckInvalidError("ack token lives longer than allowed")
        if payload["u"] != user:
            raise AckInvalidError("ack token belongs to another user")
        if payload["c"] != conversation_id:
            raise AckInvalidError("ack token belongs to another conversation")
        if not hmac.compare_digest(str(payload["m"]), self._message_hash(message)):
            raise AckInvalidError("ack token was issued for another message")
