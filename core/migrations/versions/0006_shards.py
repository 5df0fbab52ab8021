"""Sharded match runs (a run, its shards, the pairs they land); each run's rule versions.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shard_runs",
        sa.Column("run_key", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("population_dir", sa.Text, nullable=False),
        sa.Column("population", sa.String(64), nullable=False),
        sa.Column("catalog_hash", sa.String(64), nullable=False),
        sa.Column("catalog_json", sa.Text, nullable=False),
        sa.Column("tags", sa.Boolean, nullable=False),
        sa.Column("shards", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # running | finishing | complete
        sa.Column("run_id", sa.Integer, nullable=True),  # the match_runs row once complete
        sa.Column("completed_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "shard_tasks",
        sa.Column("run_key", sa.String(36), sa.ForeignKey("shard_runs.run_key"), nullable=False),
        sa.Column("shard_no", sa.Integer, nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("row_offset", sa.BigInteger, nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # pending | done | failed
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("enqueued_at", sa.DateTime, nullable=True),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("worker", sa.String(128), nullable=True),
        sa.Column("pairs", sa.BigInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("run_key", "shard_no"),
    )
    op.create_table(
        "shard_pairs",
        sa.Column("run_key", sa.String(36), nullable=False),
        sa.Column("shard_no", sa.Integer, nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("policy_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("benefit", sa.Numeric(18, 2), nullable=True),
    )
    op.create_index("ix_shard_pairs_shard", "shard_pairs", ["run_key", "shard_no"])
    # The rule version (content hash) of every policy a match run used: a pair's version is
    # (run, policy) -> rule_hash, kept once per run rather than once per pair.
    op.create_table(
        "match_run_policies",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("match_runs.run_id"), nullable=False),
        sa.Column("policy_id", sa.String(128), nullable=False),
        sa.Column("rule_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "policy_id"),
    )


def downgrade() -> None:
    op.drop_table("match_run_policies")
    op.drop_index("ix_shard_pairs_shard", "shard_pairs")
    op.drop_table("shard_pairs")
    op.drop_table("shard_tasks")
    op.drop_table("shard_runs")
