"""The parameter versions a match run read (issue 16): ``match_run_parameters``.

Revision ID: 0017
Revises: 0016

One row per (run, parameter): the first day of the parameter's version in force on the run's
as-of date and its value then (``rules.parameters``), so every amount of a run can be traced to
the dated, cited value it came from.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_run_parameters",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("match_runs.run_id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.String(10), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("match_run_parameters")
