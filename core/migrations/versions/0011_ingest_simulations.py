"""Offer changes from ingested profiles and events, and simulations run through the API.

Revision ID: 0011
Revises: 0009

``subject_match_changes``: what event-driven matching changed for a subject between match runs
(one row per subject and policy changed, named as in a run diff), with its cause — the service
event or profile update that triggered it.  ``simulations``: reach and timeline simulations an
analyst started, their parameters, status and where their tables are kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "subject_match_changes",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("policy_id", sa.String(128), nullable=False),
        sa.Column("change", sa.String(32), nullable=False),
        sa.Column("old_status", sa.String(16)),
        sa.Column("new_status", sa.String(16)),
        sa.Column("old_benefit", sa.Numeric(18, 2)),
        sa.Column("new_benefit", sa.Numeric(18, 2)),
        sa.Column("cause", sa.String(160), nullable=False),
        sa.Column("run_id", sa.Integer),  # the match run the change is on top of
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_subject_match_changes_subject", "subject_match_changes", ["subject_id"])
    op.create_index("ix_subject_match_changes_cause", "subject_match_changes", ["cause"])
    op.create_table(
        "simulations",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),  # reach | timeline
        sa.Column("status", sa.String(16), nullable=False),  # queued | running | done | failed
        sa.Column("params", sa.Text, nullable=False),  # JSON
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("error", sa.Text),
        sa.Column("summary", sa.Text),  # JSON
        sa.Column("result_dir", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("simulations")
    op.drop_index("ix_subject_match_changes_cause", "subject_match_changes")
    op.drop_index("ix_subject_match_changes_subject", "subject_match_changes")
    op.drop_table("subject_match_changes")
