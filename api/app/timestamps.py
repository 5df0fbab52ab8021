"""Timestamps in JSON responses carry their offset: the database's naive times are UTC.

The stores keep times as naive UTC (``notifier.outbox.naive_utc``); serialised as they are they
read ``2026-03-02T09:00:00``, which is not an RFC 3339 ``date-time`` (the OpenAPI schema's
format) and which a browser would take for local time — eight hours off in Beijing.  The app's
response class marks every naive datetime as UTC before encoding.

>>> from datetime import datetime
>>> aware({"at": [datetime(2026, 3, 2, 9, 0)]})
{'at': [datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.timezone.utc)]}
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Response
from litestar.serialization import default_serializer
from litestar.types import Serializer

__all__ = ["UtcResponse", "aware"]


def aware(value: Any) -> Any:
    """``value`` (builtins: dicts, lists, scalars) with naive datetimes marked as UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, dict):
        return {k: aware(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [aware(v) for v in value]
    return value


class UtcResponse(Response[Any]):
    """A JSON response whose timestamps are RFC 3339 with an offset."""

    def render(
        self, content: Any, media_type: str, enc_hook: Serializer = default_serializer
    ) -> bytes:
        if "json" in media_type and not isinstance(content, bytes | str):
            content = aware(
                msgspec.to_builtins(content, builtin_types=(datetime,), enc_hook=enc_hook)
            )
        return super().render(content, media_type, enc_hook)
