"""直达快享 pre-filled applications: the drafts a fast-track invitation links to, what they fill.

Planning a ``fast_track_invitation`` writes a draft (``application_drafts``: its token is the
invitation's link) holding the profile values the rule read.  :func:`prefill` decides, from the
fields a policy's rule reads and the subject's record, which fields the form takes from the
records and which remain for the applicant to confirm (unknown: no record has them); the
policy's ``application_conditions`` (what no record shows) always remain.  The resident confirms
the draft (:meth:`ApplicationStore.confirm`); the department then processes it.

>>> filled, missing = prefill(["age", "hukou_city", "children_under_3"],
...                           {"age": 34, "hukou_city": "北京市"}, {"children_under_3": 1})
>>> filled, missing
({'age': 34, 'hukou_city': '北京市', 'children_under_3': 1}, ())
>>> prefill(["age", "monthly_income"], {"age": 34, "monthly_income": None}, {})
({'age': 34}, ('monthly_income',))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.errors import NotFoundError, ZhidaError
from notifier.tables import application_drafts, outbox
from profiles.schema import Entity

__all__ = [
    "AlreadyConfirmedError",
    "Application",
    "ApplicationStore",
    "applicant_fields",
    "form_fields",
    "prefill",
]

_EMAIL = "email"  # a contact point the applicant gives on the form, not a fact it states


def applicant_fields(entity: Entity) -> tuple[str, ...]:
    """Who applies, as every application form asks it first: the entity's identifiers that
    name the subject itself (its key, name, phone, address), not its links to other records
    (a household, a parent) nor its e-mail.

    >>> from profiles.schema import load_schema
    >>> applicant_fields(load_schema().resident)
    ('person_id', 'name', 'address', 'phone')
    >>> applicant_fields(load_schema().enterprise)
    ('enterprise_id', 'name', 'contact_phone')
    """
    return tuple(
        f.name
        for f in entity.fields
        if f.sensitivity == "identifier"
        and f.guardian is None
        and (f.name == entity.key or not f.name.endswith("_id"))
        and not f.name.endswith(_EMAIL)
    )


class AlreadyConfirmedError(ZhidaError, RuntimeError):
    """The application was confirmed before; it is with the department."""

    http_status = 409


@dataclass(frozen=True)
class Application:
    token: str
    subject_id: str
    policy_id: str
    policy_version: str
    fields: Mapping[str, Any]  # the values the rule read when the invitation was planned
    created_at: datetime
    confirmed_at: datetime | None = None


def form_fields(entity: Entity, rule_fields: Iterable[str]) -> list[str]:
    """The fields an application lists: the applicant's, then what the rule reads, each in
    the schema's order (tags are conditions, not fields of the form).

    >>> from profiles.schema import load_schema
    >>> form_fields(load_schema().resident, {"tags", "age"})
    ['person_id', 'name', 'address', 'phone', 'age']
    """
    read = set(rule_fields) - {"tags"}
    applicant = applicant_fields(entity)
    order = [f.name for f in entity.fields]
    return [n for n in order if n in applicant] + [
        n for n in order if n in read and n not in applicant
    ]


def prefill(
    read: Iterable[str], record: Mapping[str, Any], drafted: Mapping[str, Any]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The fields of ``read`` filled from ``record`` (else from the draft's ``drafted``
    values), in order, and those no record has (the applicant confirms them)."""
    filled: dict[str, Any] = {}
    missing: list[str] = []
    for name in dict.fromkeys(read):  # in order, once each
        value = record.get(name)
        if value is None:
            value = drafted.get(name)
        if value is None:
            missing.append(name)
        else:
            filled[name] = value
    return filled, tuple(missing)


def _application(m: Mapping[Any, Any]) -> Application:
    return Application(
        m["token"], m["subject_id"], m["policy_id"], m["policy_version"],
        json.loads(m["fields"] or "{}"), m["created_at"], m["confirmed_at"],
    )  # fmt: skip


class ApplicationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, token: str) -> Application:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(application_drafts).where(application_drafts.c.token == token)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(
                f"no pre-filled application {token!r}; open it from the invitation's link or "
                "from your message centre"
            )
        return _application(row)

    def of(self, subject_id: str) -> list[Application]:
        """A subject's drafts, newest first."""
        query = (
            sa.select(application_drafts)
            .where(application_drafts.c.subject_id == subject_id)
            .order_by(application_drafts.c.id.desc())
        )
        with self.engine.connect() as conn:
            return [_application(m) for m in conn.execute(query).mappings()]

    def told_to(self, token: str, subject_id: str) -> bool:
        """Whether ``subject_id`` was sent the invitation linking to ``token`` — for a child's
        or a household's application, the guardian or head who was told of it."""
        query = sa.select(outbox.c.id).where(
            outbox.c.subject_id == subject_id, outbox.c.payload.contains(token)
        )
        with self.engine.connect() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def confirm(self, token: str, *, now: datetime) -> Application:
        """The applicant confirmed the draft; a second confirmation is a conflict."""
        with self.engine.begin() as conn:
            done = conn.execute(
                application_drafts.update()
                .where(
                    application_drafts.c.token == token, application_drafts.c.confirmed_at.is_(None)
                )
                .values(confirmed_at=now.astimezone(UTC).replace(tzinfo=None))
            ).rowcount
        if not done:
            found = self.get(token)  # a clear 404 for a token that does not exist
            assert found.confirmed_at is not None
            raise AlreadyConfirmedError(
                f"the application for {found.policy_id} was already confirmed on "
                f"{found.confirmed_at:%Y-%m-%d}; the department is processing it"
            )
        return self.get(token)
