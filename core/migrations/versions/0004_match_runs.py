"""Match runs: what was matched, as of when, against which catalog and population.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_runs",
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("catalog_hash", sa.String(64), nullable=False),
        sa.Column("population", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("policies", sa.Integer, nullable=False),
        sa.Column("eligible", sa.BigInteger, nullable=False),
        sa.Column("maybe", sa.BigInteger, nullable=False),
        sa.Column("pairs_file", sa.Text, nullable=False),
        sa.Column("previous_run_id", sa.Integer, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("match_runs")
