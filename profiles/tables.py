"""Database tables of residents, enterprises, service events, households and employments,
derived from the schema.

Every stored field is a column (derived fields are not stored); ``tags`` is JSON text so that
SQLite and PostgreSQL store it alike.  Events have a surrogate id and are unique per
(subject, item, time), so loading the same events twice adds nothing; so are employments, unique
per (person, firm, hire date).  Residents are indexed by household, employments by firm and by
person, so a household's members and a firm's staff are read without a scan.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from profiles.schema import Entity, Field, Schema

__all__ = ["TABLE_NAMES", "column_type", "profile_tables"]

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

TABLE_NAMES = {
    "resident": "residents",
    "enterprise": "enterprises",
    "event": "service_events",
    "household": "households",
    "employment": "employments",
}


def column_type(field: Field) -> sa.types.TypeEngine[Any]:
    match field.type:
        case "integer":
            return sa.BigInteger()
        case "number":
            return sa.Float(precision=53)
        case "boolean":
            return sa.Boolean()
        case "date":
            return sa.Date()
        case "datetime":
            return sa.DateTime()
        case "enum":
            return sa.String(64)
        case _:
            return sa.Text()


def _columns(entity: Entity) -> list[sa.Column[Any]]:
    return [
        sa.Column(
            f.name,
            column_type(f),
            primary_key=f.name == entity.key,
            nullable=not f.required,
        )
        for f in entity.stored_fields
    ]


def profile_tables(schema: Schema, metadata: sa.MetaData | None = None) -> dict[str, sa.Table]:
    metadata = metadata or sa.MetaData()
    tables = {
        name: sa.Table(TABLE_NAMES[name], metadata, *_columns(schema.entity(name)))
        for name in ("resident", "enterprise", "household")
    }
    sa.Index("ix_residents_household", tables["resident"].c.household_id)
    for link in schema.resident.guardian_fields:  # a person's children (the fan-out)
        sa.Index(f"ix_residents_{link}", tables["resident"].c[link])
    tables["employment"] = sa.Table(
        TABLE_NAMES["employment"],
        metadata,
        sa.Column("employment_id", _EVENT_ID, primary_key=True, autoincrement=True),
        *_columns(schema.employment),
        sa.UniqueConstraint("person_id", "enterprise_id", "hired_on", name="uq_employment"),
        sa.Index("ix_employments_enterprise", "enterprise_id"),
        sa.Index("ix_employments_person", "person_id"),
    )
    event = schema.event
    tables["event"] = sa.Table(
        TABLE_NAMES["event"],
        metadata,
        sa.Column("event_id", _EVENT_ID, primary_key=True, autoincrement=True),
        *_columns(event),
        sa.UniqueConstraint("subject_id", "item_code", "occurred_at", name="uq_service_event"),
        sa.Index("ix_service_events_subject", "subject_id", "occurred_at"),
    )  # fmt: skip
    return tables
