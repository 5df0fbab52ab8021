"""A ledger row as workers and operators see it, and the pure rules about rows.

>>> [round(backoff(n, 30.0)) for n in (1, 2, 3, 10)]
[30, 60, 120, 3600]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

# held: a plan an operator (or the mass-change guard) holds; released rows are pending again
STATUSES = ("pending", "sending", "delivered", "failed", "cancelled", "held")
_MAX_BACKOFF = 3600.0


def backoff(attempt: int, base: float, cap: float = _MAX_BACKOFF) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): doubling, capped."""
    return float(min(cap, base * 2.0 ** max(0, attempt - 1)))


IN_DOUBT: Final = "in doubt: "


def in_doubt(row: LedgerRow) -> bool:
    """Whether ``row``'s previous attempt was cut off with its worker (a lost lease) or failed
    after the message may have arrived (``IN_DOUBT``: an answer that timed out), so the far
    side may or may not have it.  A replayed row is not: the operator decided."""
    error = row.last_error or ""
    return error.startswith(IN_DOUBT) or (error.startswith("attempt ") and " lost: " in error)


def naive_utc(moment: datetime) -> datetime:
    """The ledger stores UTC without a zone (SQLite has none); aware times are converted."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@dataclass(frozen=True)
class LedgerRow:
    id: int
    idempotency_key: str
    subject_id: str
    subject_type: str
    channel: str
    address: str | None
    locale: str
    purpose: str
    payload: Mapping[str, Any]
    status: str
    attempts: int
    max_attempts: int
    not_before: datetime
    next_attempt_at: datetime
    last_error: str | None
    provider_id: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, m: Mapping[Any, Any]) -> LedgerRow:
        return cls(
            id=int(m["id"]), idempotency_key=m["idempotency_key"], subject_id=m["subject_id"],
            subject_type=m["subject_type"], channel=m["channel"], address=m["address"],
            locale=m["locale"], purpose=m["purpose"], payload=json.loads(m["payload"]),
            status=m["status"], attempts=int(m["attempts"]), max_attempts=int(m["max_attempts"]),
            not_before=m["not_before"], next_attempt_at=m["next_attempt_at"],
            last_error=m["last_error"], provider_id=m["provider_id"],
            created_at=m["created_at"], delivered_at=m["delivered_at"],
        )  # fmt: skip
