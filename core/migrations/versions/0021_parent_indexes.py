"""Residents indexed by their parent and guardian links (issue 13: ingestion's fan-out looks a
person's children up by ``mother_id``, ``father_id`` and ``guardian_id`` on every event; without
an index each lookup scanned the whole residents table).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_LINKS = ("mother_id", "father_id", "guardian_id")


def upgrade() -> None:
    for link in _LINKS:
        op.create_index(f"ix_residents_{link}", "residents", [link])


def downgrade() -> None:
    for link in reversed(_LINKS):
        op.drop_index(f"ix_residents_{link}", "residents")
