"""Contact points and preferences: how to reach a subject and what they agreed to.

They are not profile data (the matching never reads them), so they live in their own table,
``contact_points``; the in-app inbox needs none and is always available.

>>> contact_from_row({"subject_id": "p1", "phone": "+8613800000000", "email": None,
...     "webhook_url": None, "locale": "zh", "channels": "sms,inbox", "opt_out_channels": "",
...     "opt_out_categories": "就业"}).opt_out_categories
frozenset({'就业'})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import ValidationError
from notifier.steps import Contact
from notifier.tables import contact_points

if TYPE_CHECKING:
    import polars as pl

__all__ = ["CHANNELS", "ContactStore", "contact_from_row"]

CHANNELS = ("inbox", "sms", "email", "webhook")


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (text or "").split(",") if p.strip())


def contact_from_row(row: Mapping[Any, Any]) -> Contact:
    return Contact(
        subject_id=row["subject_id"],
        phone=row["phone"] or None,
        email=row["email"] or None,
        webhook_url=row["webhook_url"] or None,
        locale=row["locale"] or "zh",
        channels=_split(row["channels"]),
        opt_out_channels=frozenset(_split(row["opt_out_channels"])),
        opt_out_categories=frozenset(_split(row["opt_out_categories"])),
    )


def _check(row: Mapping[str, Any]) -> None:
    for column in ("channels", "opt_out_channels"):
        unknown = [c for c in _split(row.get(column)) if c not in CHANNELS]
        if unknown:
            raise ValidationError(
                f"contact of {row.get('subject_id')!r}, {column}: unknown channel(s) "
                f"{', '.join(unknown)}; expected some of {', '.join(CHANNELS)}"
            )
    if row.get("locale", "zh") not in ("zh", "en"):
        raise ValidationError(
            f"contact of {row.get('subject_id')!r}: locale {row.get('locale')!r} is not zh or en"
        )


class ContactStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def replace(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert or replace the contact points of the subjects in ``rows`` (all or nothing)."""
        now = datetime.now(UTC).replace(tzinfo=None)
        values = []
        for row in rows:
            _check(row)
            values.append(
                {
                    "subject_id": row["subject_id"],
                    "subject_type": row.get("subject_type", "resident"),
                    "phone": row.get("phone"),
                    "email": row.get("email"),
                    "webhook_url": row.get("webhook_url"),
                    "locale": row.get("locale") or "zh",
                    "channels": row.get("channels") or "",
                    "opt_out_channels": row.get("opt_out_channels") or "",
                    "opt_out_categories": row.get("opt_out_categories") or "",
                    "updated_at": now,
                }
            )
        with self.engine.begin() as conn:
            ids = [v["subject_id"] for v in values]
            for start in range(0, len(ids), 5000):
                chunk = ids[start : start + 5000]
                conn.execute(contact_points.delete().where(contact_points.c.subject_id.in_(chunk)))
            if values:
                conn.execute(contact_points.insert(), values)
        return len(values)

    def load(
        self, subject_ids: Iterable[str], *, conn: Connection | None = None
    ) -> dict[str, Contact]:
        """The contacts of ``subject_ids`` that have any (others get the inbox).

        With ``conn``, read in the caller's transaction.
        """
        if conn is None:
            with self.engine.connect() as own:
                return self.load(subject_ids, conn=own)
        ids = sorted(set(subject_ids))
        out: dict[str, Contact] = {}
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            rows = conn.execute(
                sa.select(contact_points).where(contact_points.c.subject_id.in_(chunk))
            ).mappings()
            out.update((r["subject_id"], contact_from_row(r)) for r in rows)
        return out

    def reachability(self) -> pl.DataFrame | None:
        """``subject_id, reachable`` of every subject with a contact point: a phone, e-mail or
        webhook whose channel they did not opt out of.  None when there are no contact points
        (or no table yet): then nobody's reachability is known."""
        import polars as pl

        if not sa.inspect(self.engine).has_table(contact_points.name):
            return None
        c = contact_points.c
        query = sa.select(
            c.subject_id, c.phone, c.email, c.webhook_url, c.opt_out_channels.label("opt_out")
        )
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        if not rows:
            return None
        frame = pl.DataFrame(rows, infer_schema_length=None)
        out = pl.col("opt_out").fill_null("")
        return frame.select(
            "subject_id",
            (
                (pl.col("phone").is_not_null() & ~out.str.contains("sms"))
                | (pl.col("email").is_not_null() & ~out.str.contains("email"))
                | (pl.col("webhook_url").is_not_null() & ~out.str.contains("webhook"))
            ).alias("reachable"),
        )
