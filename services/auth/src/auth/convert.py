"""Conversions between the auth models and their protobuf messages."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from auth.models import ApiToken
from idmesh.auth.v1 import auth_pb2


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value)
    return message


def optional_datetime(message: Message, field: str) -> datetime | None:
    """The aware UTC datetime in ``message.field``, or None when the field is unset."""
    if not message.HasField(field):
        return None
    value: timestamp_pb2.Timestamp = getattr(message, field)
    return value.ToDatetime(tzinfo=UTC)


def api_token(token: ApiToken) -> auth_pb2.ApiToken:
    """The wire form of ``token``; unset timestamps stay unset (never, not yet)."""
    message = auth_pb2.ApiToken(
        id=str(token.id),
        account_id=str(token.account_id),
        description=token.description,
        permissions=token.permissions,
        create_time=timestamp(token.create_time),
        created_by=token.created_by,
    )
    if token.expire_time is not None:
        message.expire_time.CopyFrom(timestamp(token.expire_time))
    if token.revoke_time is not None:
        message.revoke_time.CopyFrom(timestamp(token.revoke_time))
    if token.last_used_time is not None:
        message.last_used_time.CopyFrom(timestamp(token.last_used_time))
    return message
