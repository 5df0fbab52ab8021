"""Review of policy versions (issue 17): a return's reason, and one published version at a time.

Revision ID: 0018
Revises: 0017

``policy_versions`` gains ``return_reason``, ``returned_by`` and ``returned_at`` (退回修改: the
reviewer's reason, which the author sees on the draft).  Every published version but a policy's
newest becomes ``superseded`` (before, v2 and v3 both showed 已发布).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("policy_versions") as batch:
        batch.add_column(sa.Column("return_reason", sa.Text))
        batch.add_column(sa.Column("returned_by", sa.String(128)))
        batch.add_column(sa.Column("returned_at", sa.DateTime))
    op.execute(
        "UPDATE policy_versions SET status = 'superseded' WHERE status = 'published' AND "
        "version < (SELECT MAX(v.version) FROM policy_versions v "
        "WHERE v.policy_id = policy_versions.policy_id AND v.status = 'published')"
    )


def downgrade() -> None:
    op.execute("UPDATE policy_versions SET status = 'published' WHERE status = 'superseded'")
    with op.batch_alter_table("policy_versions") as batch:
        batch.drop_column("returned_at")
        batch.drop_column("returned_by")
        batch.drop_column("return_reason")
