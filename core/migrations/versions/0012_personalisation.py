"""A subject's choice about personalised ranking (China's 2022 algorithmic-recommendation rules).

Revision ID: 0012
Revises: 0011

A resident or firm may switch off ranking by personal characteristics for themselves; a row
here with ``personalised`` false means "order my offers by the rules alone".  No row: the
deployment's default (``ZHIDA_PERSONALISATION``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personalisation_choices",
        sa.Column("subject_id", sa.String(64), primary_key=True),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("personalised", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("personalisation_choices")
