"""Local passwords: argon2id hashes (argon2-cffi, RFC 9106 parameters of its default profile),
computed in a worker thread so the event loop never stalls, and the RPCs that set and verify
them. Only bootstrap admins have one; every other user signs in through an IdP.

Verification of an unknown email still hashes (against a fixed dummy hash), so the response
time does not tell which emails have a password.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Any, Final

import asyncpg
import grpc
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from auth.sso import convert
from auth.validation import parse_uuid
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import InvalidArgument, Unauthenticated

if TYPE_CHECKING:
    from auth.sso.servicer import Sso

logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
MIN_PASSWORD_CHARS: Final = 12
MAX_PASSWORD_CHARS: Final = 1024
INVALID: Final = "invalid email or password"
_HASHER: Final = PasswordHasher()
_DUMMY_HASH: Final = _HASHER.hash("not a password of anyone")

_UPSERT: Final = """
INSERT INTO auth.local_credentials (user_id, account_id, email, password_hash)
VALUES ($1, $2, $3, $4)
ON CONFLICT (user_id) DO UPDATE
SET email = EXCLUDED.email, password_hash = EXCLUDED.password_hash, update_time = now()
WHERE local_credentials.account_id = EXCLUDED.account_id
"""
_BY_EMAIL: Final = """
SELECT user_id, password_hash FROM auth.local_credentials WHERE account_id = $1 AND email = $2
"""
_REHASH: Final = """
UPDATE auth.local_credentials SET password_hash = $2, update_time = now() WHERE user_id = $1
"""


def _email(value: str) -> str:
    email = value.strip().lower()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise InvalidArgument("must be an email address", field="email")
    return email


def check_password(password: str) -> str:
    """At least 12 characters (NIST SP 800-63B §3.1.1.2 asks for 8; a bootstrap admin's password
    guards the whole account), at most 1024 (argon2 time stays bounded)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidArgument(f"must be at least {MIN_PASSWORD_CHARS} characters", field="password")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidArgument(f"must be at most {MAX_PASSWORD_CHARS} characters", field="password")
    return password


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class LocalPasswords:
    """The local_credentials table and the two RPCs (a mixin: ``local_passwords`` is set by the
    servicer's constructor)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def set(
        self, account_id: uuid.UUID, user_id: uuid.UUID, email: str, password: str
    ) -> None:
        digest = await asyncio.to_thread(_HASHER.hash, check_password(password))
        status = await self._pool.execute(_UPSERT, user_id, account_id, _email(email), digest)
        if status.endswith(" 0"):
            raise InvalidArgument("the user belongs to another account", field="user_id")
        logger.info("local password set for user %s of account %s", user_id, account_id)

    async def verify(self, account_id: uuid.UUID, email: str, password: str) -> uuid.UUID:
        row = await self._pool.fetchrow(_BY_EMAIL, account_id, email.strip().lower())
        stored = _DUMMY_HASH if row is None else str(row["password_hash"])
        matches = await asyncio.to_thread(_verify, stored, password[:MAX_PASSWORD_CHARS])
        if row is None or not matches:
            raise Unauthenticated(INVALID, reason="invalid_credentials")
        if _HASHER.check_needs_rehash(stored):
            digest = await asyncio.to_thread(_HASHER.hash, password)
            await self._pool.execute(_REHASH, row["user_id"], digest)
        user_id: uuid.UUID = row["user_id"]
        return user_id


class LocalPasswordMethods:
    """SetLocalPassword and VerifyLocalPassword of AuthService."""

    local_passwords: LocalPasswords
    sso: Sso

    async def SetLocalPassword(
        self, request: auth_pb2.SetLocalPasswordRequest, context: Context
    ) -> auth_pb2.SetLocalPasswordResponse:
        await self.local_passwords.set(
            parse_uuid(request.account_id, "account_id"),
            parse_uuid(request.user_id, "user_id"),
            request.email,
            request.password,
        )
        return auth_pb2.SetLocalPasswordResponse()

    async def VerifyLocalPassword(
        self, request: auth_pb2.VerifyLocalPasswordRequest, context: Context
    ) -> auth_pb2.VerifyLocalPasswordResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        user_id = await self.local_passwords.verify(account_id, request.email, request.password)
        if not request.open_session:
            return auth_pb2.VerifyLocalPasswordResponse(user_id=str(user_id))
        opened = await self.sso.sessions.open(account_id, user_id, None)
        return auth_pb2.VerifyLocalPasswordResponse(
            user_id=str(user_id),
            session_secret=opened.secret,
            session=convert.session(opened.session),
        )
