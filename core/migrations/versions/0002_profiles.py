"""Profiles: residents, enterprises and service events, with the columns of the core schema.

Revision ID: 0002
Revises: 0001

Written out as the core profile schema (``profiles/schema/core.yaml``) stood at this revision,
not built from today's code, so this revision stays what it was when the schema changes: a
later field gets a later migration.  Fields of a deployment's schema extension get their
columns from ``zhida db upgrade`` (``profiles.store.add_missing_columns``), not from here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The schema's types as columns: integer, number, boolean, date, datetime, enum, text.
_Int = sa.BigInteger
_Number = sa.Float(precision=53)
_Enum = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "residents",
        sa.Column("person_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("gender", _Enum),
        sa.Column("birth_date", sa.Date),
        sa.Column("hukou_city", sa.Text),
        sa.Column("hukou_district", _Enum),
        sa.Column("residence_district", _Enum),
        sa.Column("address", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("marital_status", _Enum),
        sa.Column("household_size", _Int),
        sa.Column("children_under_3", _Int),
        sa.Column("employment_status", _Enum),
        sa.Column("monthly_income", _Number),
        sa.Column("household_income_per_capita", _Number),
        sa.Column("disability_grade", _Int),
        sa.Column("subsistence_status", _Enum),
        sa.Column("is_veteran", sa.Boolean),
        sa.Column("tags", sa.Text),  # JSON list of strings
    )
    op.create_table(
        "enterprises",
        sa.Column("enterprise_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("registered_district", _Enum),
        sa.Column("industry_code", sa.Text),
        sa.Column("size_class", _Enum),
        sa.Column("employees", _Int),
        sa.Column("annual_revenue", _Number),
        sa.Column("founded_date", sa.Date),
        sa.Column("high_tech", sa.Boolean),
        sa.Column("specialized_sme", sa.Boolean),
        sa.Column("tax_credit_rating", _Enum),
        sa.Column("unemployment_insurance_months", _Int),
        sa.Column("layoff_rate", _Number),
        sa.Column("graduate_hires", _Int),
        sa.Column("contact_phone", sa.Text),
        sa.Column("contact_email", sa.Text),
        sa.Column("tags", sa.Text),  # JSON list of strings
    )
    op.create_table(
        "service_events",
        sa.Column("event_id", _Id, primary_key=True, autoincrement=True),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("subject_type", _Enum, nullable=False),
        sa.Column("item_code", _Enum, nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("subject_id", "item_code", "occurred_at", name="uq_service_event"),
    )
    op.create_index("ix_service_events_subject", "service_events", ["subject_id", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_service_events_subject", "service_events")
    op.drop_table("service_events")
    op.drop_table("enterprises")
    op.drop_table("residents")
