"""The mass-change guard's decisions, and plans held for an operator.

Revision ID: 0015
Revises: 0013

One row per guarded plan: ``passed``, ``held`` (its outbox rows wait with status ``held``) or
``released`` (by whom, when), with the reasons and the endings a deliberate act let through.
Written out as ``notifier/tables.py`` declares the table at this revision; no application code
is imported.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "plan_guards",
        sa.Column(
            "plan_id",
            _Id,
            sa.ForeignKey("delivery_plans.plan_id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("deliberate", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("released_at", sa.DateTime),
        sa.Column("released_by", sa.String(128)),
    )
    op.create_index("ix_plan_guards_status", "plan_guards", ["status"])


def downgrade() -> None:
    op.drop_index("ix_plan_guards_status", table_name="plan_guards")
    op.drop_table("plan_guards")
