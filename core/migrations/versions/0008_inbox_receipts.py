"""Channels: the in-app inbox, delivery receipts and feedback.

Revision ID: 0008
Revises: 0007

Written out here (not imported from the modules that query them), so this revision stays what
it was when later ones change the tables; tests/notifier/test_receipts.py holds the two equal.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox_messages",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("ledger_id", _Id),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("policy_ids", sa.Text, nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("read_at", sa.DateTime),
    )
    op.create_index("ix_inbox_subject", "inbox_messages", ["subject_id", "id"])
    op.create_table(
        "delivery_receipts",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("receipt_key", sa.String(40), nullable=False, unique=True),
        sa.Column("message_key", sa.String(64)),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16)),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("rating", sa.String(8)),
        sa.Column("detail", sa.Text),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_receipts_subject_policy", "delivery_receipts", ["subject_id", "policy_id"])
    op.create_index("ix_receipts_occurred", "delivery_receipts", ["occurred_at"])


def downgrade() -> None:
    op.drop_table("delivery_receipts")
    op.drop_table("inbox_messages")
