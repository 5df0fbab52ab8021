"""Profiles: residents, enterprises and service events, with columns from the profile schema.

Revision ID: 0002
Revises: 0001

The columns are those of the core schema and any extension in force when the migration runs;
fields added by a later extension get their columns from ``zhida db upgrade``
(``profiles.store.add_missing_columns``).
"""

from __future__ import annotations

from alembic import op

from profiles.schema import load_schema
from profiles.tables import profile_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for table in profile_tables(load_schema()).values():
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(list(profile_tables(load_schema()).values())):
        table.drop(bind)
