"""Residents' documents (issue 16): the 就业创业证, its unemployment registration date, the
居住证 and the 计划生育特殊家庭 flag.

Revision ID: 0020
Revises: 0019

Written out as ``profiles/schema/core.yaml`` declares them at this revision (no application code
is imported): ``residents`` gains ``employment_card``, ``unemployment_registered_on``,
``residence_permit`` and ``family_planning_special``, each null (unknown) for the rows already
stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_RESIDENT_COLUMNS = (
    ("employment_card", sa.Boolean),
    ("unemployment_registered_on", sa.Date),
    ("residence_permit", sa.Boolean),
    ("family_planning_special", sa.Boolean),
)


def upgrade() -> None:
    for name, kind in _RESIDENT_COLUMNS:
        op.add_column("residents", sa.Column(name, kind))


def downgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        for name, _ in reversed(_RESIDENT_COLUMNS):
            batch.drop_column(name)
