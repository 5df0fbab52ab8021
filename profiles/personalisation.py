"""Whether a subject allows ranking by personal characteristics (a choice the subject makes).

China's 2022 provisions on algorithmic recommendation let a user switch off recommendation
by personal characteristics.  ``ZHIDA_PERSONALISATION`` switches it off for a deployment; this
store keeps each subject's own choice.  Rankers read :meth:`PersonalisationStore.opted_out`
and order those subjects' offers by the rules alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = ["PersonalisationStore", "choices"]

choices = sa.Table(
    "personalisation_choices",
    sa.MetaData(),
    sa.Column("subject_id", sa.String(64), primary_key=True),
    sa.Column("subject_type", sa.String(16), nullable=False),
    sa.Column("personalised", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


class PersonalisationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def choose(self, subject_id: str, subject_type: str, *, personalised: bool) -> None:
        """Record the subject's choice (replacing an earlier one)."""
        now = datetime.now(UTC).replace(tzinfo=None)
        with self.engine.begin() as conn:
            conn.execute(sa.delete(choices).where(choices.c.subject_id == subject_id))
            conn.execute(
                choices.insert().values(
                    subject_id=subject_id, subject_type=subject_type,
                    personalised=personalised, updated_at=now,
                )
            )  # fmt: skip

    def personalised(self, subject_id: str, *, default: bool = True) -> bool:
        """The subject's choice, or ``default`` (the deployment's) when they made none."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(choices.c.personalised).where(choices.c.subject_id == subject_id)
            ).scalar_one_or_none()
        return default if found is None else bool(found)

    def opted_out(self, subject_ids: Iterable[str] | None = None) -> set[str]:
        """The subjects (of ``subject_ids``, or all) who switched personalised ranking off."""
        query = sa.select(choices.c.subject_id).where(choices.c.personalised.is_(False))
        wanted = None if subject_ids is None else list(subject_ids)
        with self.engine.connect() as conn:
            if wanted is None:
                return set(conn.execute(query).scalars())
            out: set[str] = set()
            for start in range(0, len(wanted), 5000):
                part = wanted[start : start + 5000]
                out.update(conn.execute(query.where(choices.c.subject_id.in_(part))).scalars())
            return out
