"""Delivery: contact points, plans, notices, the outbox ledger, attempts, grants, objections.

Revision ID: 0007
Revises: 0006

The tables are declared once in ``notifier/tables.py``.
"""

from __future__ import annotations

from alembic import op

from notifier.tables import metadata

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
