"""Answers to objections, and confirmed applications (issue 17).

Revision ID: 0019
Revises: 0018

``objections`` gains ``answer``, ``answered_by`` and ``answered_at``: the department's officer
answers an objection to a grant and the resident reads the answer in their message centre (the
status becomes ``answered``).  ``application_drafts`` gains ``confirmed_at``: the day the
resident confirmed a pre-filled application (直达快享) and the conditions checked at application.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("objections") as batch:
        batch.add_column(sa.Column("answer", sa.Text))
        batch.add_column(sa.Column("answered_by", sa.String(128)))
        batch.add_column(sa.Column("answered_at", sa.DateTime))
    with op.batch_alter_table("application_drafts") as batch:
        batch.add_column(sa.Column("confirmed_at", sa.DateTime))


def downgrade() -> None:
    with op.batch_alter_table("application_drafts") as batch:
        batch.drop_column("confirmed_at")
    with op.batch_alter_table("objections") as batch:
        batch.drop_column("answered_at")
        batch.drop_column("answered_by")
        batch.drop_column("answer")
