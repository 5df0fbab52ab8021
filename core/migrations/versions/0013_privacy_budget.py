"""Privacy budgets: the noisy releases kept, what each user spent on them, and resets.

Revision ID: 0013
Revises: 0012

Every released count and sum carries differential-privacy noise; a release is kept so the same
question gets the same answer, and each user is charged its ε once (``privacy_spend``) against
a daily and a lifetime cap.  An admin's reset is a row of ``privacy_resets`` (and an audit
entry).  Written out as the tables are at this revision; no application code is imported.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "privacy_releases",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("epsilon", sa.Float, nullable=False),
        sa.Column("figures", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "privacy_spend",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("release_key", sa.String(200), nullable=False),
        sa.Column("epsilon", sa.Float, nullable=False),
        sa.Column("spent_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("username", "release_key", name="uq_privacy_spend_user_release"),
    )
    op.create_table(
        "privacy_resets",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("reset_by", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reset_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("privacy_resets")
    op.drop_table("privacy_spend")
    op.drop_table("privacy_releases")
