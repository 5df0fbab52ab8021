"""The tables of sharded runs: the run, its shards (one row each), and the pairs shards land.

``shard_pairs`` is only a landing place: finishing a run moves its pairs to the run's Parquet
file and deletes them here.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData()
runs_table = sa.Table(
    "shard_runs",
    metadata,
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
    sa.Column("run_id", sa.Integer),  # the match_runs row once complete
    sa.Column("completed_at", sa.DateTime),
)
tasks_table = sa.Table(
    "shard_tasks",
    metadata,
    sa.Column("run_key", sa.String(36), sa.ForeignKey("shard_runs.run_key"), primary_key=True),
    sa.Column("shard_no", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(16), nullable=False),
    sa.Column("row_offset", sa.BigInteger, nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | done | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("enqueued_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("worker", sa.String(128)),
    sa.Column("pairs", sa.BigInteger),
    sa.Column("error", sa.Text),
)
PAIR_COLUMNS = ("run_key", "shard_no", "subject_id", "subject_type", "policy_id", "status")
pairs_table = sa.Table(
    "shard_pairs",
    metadata,
    sa.Column("run_key", sa.String(36), nullable=False),
    sa.Column("shard_no", sa.Integer, nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("subject_type", sa.String(16), nullable=False),
    sa.Column("policy_id", sa.String(128), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("benefit", sa.Numeric(18, 2)),
    sa.Index("ix_shard_pairs_shard", "run_key", "shard_no"),
)


def now() -> datetime:
    """The tables' clock: UTC without a zone (SQLite stores none)."""
    return datetime.now(UTC).replace(tzinfo=None)
