"""The simulations' table, declared once; migration 0011 creates it and :mod:`simulations.jobs`
queries it.

- ``simulations``: reach and timeline simulations started through the API or the console, one
  row each (queued → running → done | failed), with their parameters, who started them, their
  summary and where their tables were written.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["metadata", "simulations"]

metadata = sa.MetaData()
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids (as the migration).
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

simulations = sa.Table(
    "simulations",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # reach | timeline
    sa.Column("status", sa.String(16), nullable=False),  # queued | running | done | failed
    sa.Column("params", sa.Text, nullable=False),  # JSON
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("started_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("error", sa.Text),
    sa.Column("summary", sa.Text),
    sa.Column("result_dir", sa.Text),
)
