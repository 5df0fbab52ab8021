"""Households and employments (issue 15): the links between residents, households and firms.

Revision ID: 0016
Revises: 0015

Written out as ``profiles/schema/core.yaml`` declares them at this revision (no application code
is imported): a ``households`` table keyed by ``household_id`` (its stored fields; size, income
and the other aggregates are derived from the members, never stored), an ``employments`` table
with a surrogate id, unique per (person, firm, hire date) and indexed by firm and by person, the
residents' link fields (household, relation to the head, parents, guardian, graduation date,
calibration weight) indexed by household, and the enterprises' calibration weight.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Int = sa.BigInteger
_Number = sa.Float(precision=53)
_Enum = sa.String(64)

_RESIDENT_COLUMNS = (
    ("household_id", sa.Text),
    ("relation_to_head", _Enum),
    ("mother_id", sa.Text),
    ("father_id", sa.Text),
    ("guardian_id", sa.Text),
    ("graduated_on", sa.Date),
    ("weight", _Number),
)


def upgrade() -> None:
    for name, kind in _RESIDENT_COLUMNS:
        op.add_column("residents", sa.Column(name, kind))
    op.create_index("ix_residents_household", "residents", ["household_id"])
    op.add_column("enterprises", sa.Column("weight", _Number))
    op.create_table(
        "households",
        sa.Column("household_id", sa.Text, primary_key=True),
        sa.Column("residence_district", _Enum),
        sa.Column("housing", _Enum),
        sa.Column("declared_assets", _Number),
        sa.Column("contact_person_id", sa.Text),
        sa.Column("weight", _Number),
    )
    op.create_table(
        "employments",
        sa.Column("employment_id", _Id, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("enterprise_id", sa.Text, nullable=False),
        sa.Column("hired_on", sa.Date, nullable=False),
        sa.Column("left_on", sa.Date),
        sa.Column("contract_months", _Int),
        sa.Column("unemployment_insurance_months", _Int),
        sa.UniqueConstraint("person_id", "enterprise_id", "hired_on", name="uq_employment"),
    )
    op.create_index("ix_employments_enterprise", "employments", ["enterprise_id"])
    op.create_index("ix_employments_person", "employments", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_employments_person", "employments")
    op.drop_index("ix_employments_enterprise", "employments")
    op.drop_table("employments")
    op.drop_table("households")
    with op.batch_alter_table("enterprises") as batch:
        batch.drop_column("weight")
    op.drop_index("ix_residents_household", "residents")
    with op.batch_alter_table("residents") as batch:
        for name, _ in reversed(_RESIDENT_COLUMNS):
            batch.drop_column(name)
