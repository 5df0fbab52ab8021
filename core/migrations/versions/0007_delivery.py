"""Delivery: contact points, plans, notices, the outbox ledger, attempts, grants, objections.

Revision ID: 0007
Revises: 0006

Written out as ``notifier/tables.py`` declared the tables at this revision (not imported from
it), so this revision stays what it was when later ones change the tables; ``zhida db check``
(in ``make lint``) holds the migrations and the declarations equal.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contact_points",
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
    op.create_table(
        "delivery_plans",
        sa.Column("plan_id", _Id, primary_key=True, autoincrement=True),
        sa.Column("cause", sa.String(128), nullable=False, unique=True),  # e.g. "run 7 vs 6"
        sa.Column("run_id", sa.Integer),
        sa.Column("planned_at", sa.DateTime, nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("deferred", sa.Integer, nullable=False),
        sa.Column("suppressed", sa.Integer, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("plan_id", _Id, sa.ForeignKey("delivery_plans.plan_id")),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("locale", sa.String(8), nullable=False),
        # the first item's purpose; "digest" if several
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),  # JSON: the items, their reasons
        # pending -> sending -> delivered | pending (retry) | failed (parked); cancelled by operator
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
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_subject", "outbox", ["subject_id", "created_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("outbox_id", _Id, sa.ForeignKey("outbox.id"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),  # delivered|transient|permanent|lost
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_delivery_attempts_outbox_id", "delivery_attempts", ["outbox_id"])
    op.create_table(
        "notices",
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
    )
    op.create_index("ix_notices_subject", "notices", ["subject_id", "policy_id"])
    op.create_table(
        "grants",
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
    )
    op.create_index("ix_grants_subject", "grants", ["subject_id", "policy_id"])
    op.create_table(
        "objections",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("grant_id", _Id, sa.ForeignKey("grants.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),  # objection | decline
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("department", sa.String(128), nullable=False),  # routed to
        sa.Column("status", sa.String(16), nullable=False),  # routed | resolved
    )
    op.create_index("ix_objections_grant_id", "objections", ["grant_id"])
    op.create_table(
        "application_drafts",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("token", sa.String(32), nullable=False, unique=True),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("fields", sa.Text, nullable=False),  # JSON: the profile values the form needs
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("application_drafts")
    op.drop_table("objections")
    op.drop_table("grants")
    op.drop_table("notices")
    op.drop_table("delivery_attempts")
    op.drop_table("outbox")
    op.drop_table("delivery_plans")
    op.drop_table("contact_points")
