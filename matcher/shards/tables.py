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
    sa.Column("created_at", sa.DateTime),
    sa.Column("as_of", sa.Date),
    sa.Column("population_dir", sa.Text),
    sa.Column("population", sa.String(64)),
    sa.Column("catalog_hash", sa.String(64)),
    sa.Column("catalog_json", sa.Text),
    sa.Column("tags", sa.Boolean),
    sa.Column("shards", sa.Integer),
    sa.Column("status", sa.String(16)),
    sa.Column("run_id", sa.Integer),
    sa.Column("completed_at", sa.DateTime),
)
tasks_table = sa.Table(
    "shard_tasks",
    metadata,
    sa.Column("run_key", sa.String(36)),
    sa.Column("shard_no", sa.Integer),
    sa.Column("entity", sa.String(16)),
    sa.Column("row_offset", sa.BigInteger),
    sa.Column("row_count", sa.BigInteger),
    sa.Column("status", sa.String(16)),
    sa.Column("attempts", sa.Integer),
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
    *(sa.Column(name, sa.String) for name in PAIR_COLUMNS),
    sa.Column("benefit", sa.Numeric(18, 2)),
)


def now() -> datetime:
    """The tables' clock: UTC without a zone (SQLite stores none)."""
    return datetime.now(UTC).replace(tzinfo=None)
