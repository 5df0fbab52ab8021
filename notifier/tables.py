"""The delivery tables, declared once; migration 0007 creates them and the stores query them.

- ``contact_points``: how to reach a subject and what they agreed to (not profile data);
- ``delivery_plans``: one row per planned cause (a run diff), so a cause is planned once;
- ``plan_guards``: what the mass-change guard decided about a run's plan, and an operator's hold
  or release of any plan (its outbox rows wait as ``held`` meanwhile);
- ``notices``: every planning decision per (subject, policy) with its reason — "why was I (not)
  told" — and the dedupe history;
- ``outbox``: the ledger of messages, keyed by an idempotency key; the queue carries its id;
- ``delivery_attempts``: every finished attempt and its outcome;
- ``grants`` and ``objections``: 免申即享 grant records, their end, and objections to them;
- ``application_drafts``: 直达快享 pre-filled application records the invitation links to.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "application_drafts",
    "contact_points",
    "delivery_attempts",
    "delivery_plans",
    "grants",
    "metadata",
    "notices",
    "objections",
    "outbox",
    "plan_guards",
]

metadata = sa.MetaData()
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

contact_points = sa.Table(
    "contact_points",
    metadata,
    sa.Column("subject_id", sa.String(64), primary_key=True),
    sa.Column("subject_type", sa.String(16), nullable=False),
    sa.Column("phone", sa.String(32)),
    sa.Column("email", sa.String(254)),
    sa.Column("webhook_url", sa.Text),
    sa.Column("locale", sa.String(8), nullable=False, server_default="zh"),
    # Preference order, comma-separated channel names; the inbox is always the last resort.
    sa.Column("channels", sa.String(64), nullable=False, server_default=""),
    sa.Column("opt_out_channels", sa.String(64), nullable=False, server_default=""),
    sa.Column("opt_out_categories", sa.Text, nullable=False, server_default=""),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

delivery_plans = sa.Table(
    "delivery_plans",
    metadata,
    sa.Column("plan_id", _Id, primary_key=True, autoincrement=True),
    sa.Column("cause", sa.String(128), nullable=False, unique=True),  # e.g. "run 7 vs 6"
    sa.Column("run_id", sa.Integer),
    sa.Column("planned_at", sa.DateTime, nullable=False),
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("messages", sa.Integer, nullable=False),
    sa.Column("deferred", sa.Integer, nullable=False),
    sa.Column("suppressed", sa.Integer, nullable=False),
)

plan_guards = sa.Table(
    "plan_guards",
    metadata,
    sa.Column(
        "plan_id",
        _Id,
        sa.ForeignKey("delivery_plans.plan_id"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("status", sa.String(16), nullable=False),  # passed|held|released|discarded
    sa.Column("reasons", sa.Text, nullable=False),  # JSON list: why it is (was) held
    sa.Column("deliberate", sa.Text, nullable=False),  # JSON list: endings an act let through
    sa.Column("decided_at", sa.DateTime, nullable=False),
    sa.Column("decided_by", sa.String(128), nullable=False),  # "guard" or an operator
    sa.Column("released_at", sa.DateTime),  # when and by whom a hold was settled
    sa.Column("released_by", sa.String(128)),  # (released or discarded)
    sa.Index("ix_plan_guards_status", "status"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("plan_id", _Id, sa.ForeignKey("delivery_plans.plan_id")),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("subject_type", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.Text),
    sa.Column("locale", sa.String(8), nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),  # the first item's; "digest" if several
    sa.Column("payload", sa.Text, nullable=False),  # JSON: the items, their reasons
    # pending -> sending -> delivered | pending (retry) | failed (parked) ; cancelled by operator
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("not_before", sa.DateTime, nullable=False),  # UTC; quiet hours defer it
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),  # UTC; back-off moves it
    sa.Column("enqueued_at", sa.DateTime),  # last hand-over to the broker
    sa.Column("lease_until", sa.DateTime),  # a claim expires: a killed worker loses nothing
    sa.Column("last_error", sa.Text),
    sa.Column("provider_id", sa.String(128)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("delivered_at", sa.DateTime),
    sa.Index("ix_outbox_due", "status", "next_attempt_at"),
    sa.Index("ix_outbox_subject", "subject_id", "created_at"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("outbox_id", _Id, sa.ForeignKey("outbox.id"), nullable=False, index=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # delivered|transient|permanent|lost
    sa.Column("error", sa.Text),
)

notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("plan_id", _Id, sa.ForeignKey("delivery_plans.plan_id"), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("subject_type", sa.String(16), nullable=False),
    sa.Column("policy_id", sa.String(64), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("change", sa.String(32), nullable=False),
    sa.Column("purpose", sa.String(32)),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),  # planned | deferred | suppressed
    sa.Column("reason", sa.Text, nullable=False),
    # (subject, policy, version, purpose, n): told at most once; NULL when suppressed.
    sa.Column("item_key", sa.String(64), unique=True),
    sa.Column("outbox_id", _Id, sa.ForeignKey("outbox.id")),
    sa.Column("decided_at", sa.DateTime, nullable=False),
    sa.Index("ix_notices_subject", "subject_id", "policy_id"),
)

grants = sa.Table(
    "grants",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("subject_type", sa.String(16), nullable=False),
    sa.Column("policy_id", sa.String(64), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("benefit", sa.Numeric(18, 2)),
    sa.Column("benefit_period", sa.String(8)),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date),
    sa.Column("objection_until", sa.Date, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),  # JSON: the explanation, clause by clause
    sa.Column("status", sa.String(16), nullable=False),  # active | ending | objected
    sa.Column("department", sa.String(128), nullable=False),
    sa.Column("notice_key", sa.String(64), nullable=False, unique=True),
    sa.Column("end_notice_key", sa.String(64)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_grants_subject", "subject_id", "policy_id"),
)

objections = sa.Table(
    "objections",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("grant_id", _Id, sa.ForeignKey("grants.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # objection | decline
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("department", sa.String(128), nullable=False),  # routed to
    sa.Column("status", sa.String(16), nullable=False),  # routed | answered
    sa.Column("answer", sa.Text),  # the department's answer, which the resident reads
    sa.Column("answered_by", sa.String(128)),
    sa.Column("answered_at", sa.DateTime),
)

application_drafts = sa.Table(
    "application_drafts",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("token", sa.String(32), nullable=False, unique=True),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("policy_id", sa.String(64), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("fields", sa.Text, nullable=False),  # JSON: the profile values the form needs
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("confirmed_at", sa.DateTime),  # the resident confirmed it (null: not yet)
)
