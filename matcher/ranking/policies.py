"""Policy attributes as a frame: what ranking may know about a policy without knowing a person.

``annual_benefit`` puts benefits paid per month, per year or once on one scale (CNY a year; a
one-off payment counts once), so a 100-a-month allowance and a 1,200 one-off grant compare.

>>> from datetime import date
>>> from rules.policy import Policy
>>> p = Policy(id="bj-x", title="示例", department="北京市民政局", audience="resident",
...            mode="auto_grant", eligibility="age >= 80", valid_from=date(2016, 1, 1),
...            benefit="100", benefit_period="month")
>>> policy_frame([p]).select("policy_id", "mode", "benefit_period").row(0)
('bj-x', 'auto_grant', 'month')
>>> pl.select(annual_benefit(pl.lit(100.0), pl.lit("month"))).item()
1200.0
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from rules.policy import AUDIENCES, BENEFIT_PERIODS, MODES, Policy

__all__ = ["PERIOD_FACTOR", "POLICY_SCHEMA", "annual_benefit", "policy_frame"]

# How many payments a year each period means; a one-off grant counts once.
PERIOD_FACTOR: dict[str, float] = {"once": 1.0, "month": 12.0, "year": 1.0}

POLICY_SCHEMA = pl.Schema(
    {
        "policy_id": pl.String(),
        "title": pl.String(),
        "title_en": pl.String(),
        "audience": pl.Enum(list(AUDIENCES)),
        "mode": pl.Enum(list(MODES)),
        "benefit_period": pl.Enum(list(BENEFIT_PERIODS)),
        "department": pl.String(),
        "category": pl.String(),
        "has_benefit": pl.Boolean(),
        "valid_until": pl.Date(),  # the policy's deadline; null: open-ended
    }
)


def policy_frame(policies: Sequence[Policy]) -> pl.DataFrame:
    """One row per policy: id, titles, audience, mode, period, department, category, benefit?,
    and the date it ends (its deadline)."""
    rows = [
        {
            "policy_id": p.id,
            "title": p.title,
            "title_en": p.title_en,
            "audience": p.audience,
            "mode": p.mode,
            "benefit_period": p.benefit_period,
            "department": p.department,
            "category": p.category,
            "has_benefit": p.benefit is not None,
            "valid_until": p.valid_until,
        }
        for p in policies
    ]
    return pl.DataFrame(rows, schema=POLICY_SCHEMA)


def annual_benefit(amount: pl.Expr, period: pl.Expr) -> pl.Expr:
    """CNY a year: ``amount`` times the payments a year of ``period`` (unknown stays unknown)."""
    factor = period.cast(pl.String).replace_strict(PERIOD_FACTOR, default=1.0)
    return amount.cast(pl.Float64) * factor
