"""``zhida demo`` step 6c: whose benefit it is and who is told (issue 15).

From the demo's own pairs (``zhida match`` output, each with its ``unit`` and ``recipient_id``):
a household's 低保 is one pair, counted once and told once to its contact person or head, never
to every member; a child's 育儿补贴 is told once to one guardian, not to both parents.  The
messages are what the planner (:func:`notifier.planner.plan`, the run's own steps and the
recipients' contact points) makes of the two offers; nothing is recorded or sent here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["units_step"]


def units_step(console: Any, matches: Any, population_dir: Path, catalog: Any) -> None:
    """Print a household's offer and a child's, each with who is told, and the cost counted
    once per unit beside what counting every member would give."""
    import polars as pl

    residents_path = population_dir / "residents.parquet"
    residents = pl.read_parquet(residents_path)
    if "household_id" not in residents.columns:
        console.print("this population has no households (no links): each person is their unit")
        return
    household_policies = [p for p in catalog.policies if p.unit_kind == "household"]
    guardian_policies = [p for p in catalog.policies if p.recipient_kind == "guardian"]
    rows: list[dict[str, Any]] = []
    for policy in household_policies:
        pairs = matches.filter(
            (pl.col("policy_id") == policy.id) & (pl.col("subject_type") == "household")
        )
        if pairs.is_empty():
            continue
        sizes = residents.group_by("household_id").len("members")
        counted = pairs.join(sizes, left_on="subject_id", right_on="household_id", how="left")
        eligible = counted.filter(pl.col("status") == "eligible")
        once = eligible["benefit"].sum() or 0
        per_member = (eligible["benefit"] * eligible["members"]).sum() or 0
        console.print(
            f"{policy.title}: {pairs.height:,} households ({eligible.height:,} eligible, "
            f"{counted['members'].sum():,} people), cost {once:,.0f} a {policy.benefit_period} "
            f"counted once per household — {per_member:,.0f} if each member counted it"
        )
        pick = eligible if not eligible.is_empty() else counted
        pick = pick.sort(["members", "subject_id"], descending=[True, False]).head(1)
        rows.append(pick.with_columns(pl.lit(policy.title).alias("title")).row(0, named=True))
        break
    for policy in guardian_policies:
        pairs = matches.filter(
            (pl.col("policy_id") == policy.id) & (pl.col("subject_type") == "resident")
        )
        people = residents["person_id"]
        # A child whose mother and father are both residents: the one that must not be told twice.
        with_both = residents.filter(
            pl.col("mother_id").is_in(people.implode())
            & pl.col("father_id").is_in(people.implode())
        ).select("person_id")
        both = pairs.join(with_both, left_on="subject_id", right_on="person_id", how="semi")
        if both.is_empty():
            continue
        told = pairs["recipient_id"].n_unique()
        console.print(
            f"{policy.title}: {pairs.height:,} children, told to {told:,} guardians (one per "
            "child, never both parents)"
        )
        chosen = both.sort("subject_id").head(1)
        rows.append(chosen.with_columns(pl.lit(policy.title).alias("title")).row(0, named=True))
        break
    if not rows:
        console.print("no household or per-child offer in this run")
        return
    _print_messages(console, rows, residents, catalog)


def _print_messages(console: Any, rows: list[dict[str, Any]], residents: Any, catalog: Any) -> None:
    """Plan the chosen offers as new, and print each message: to whom, about whom."""
    import polars as pl

    from core.clock import SystemClock
    from core.db import get_engine
    from core.settings import get_settings
    from notifier.contacts import ContactStore
    from notifier.dispatch import quiet_hours_of
    from notifier.planner import candidates_from_changes, plan
    from notifier.steps import PlanContext

    changes = [
        {**r, "change": f"newly_{r['status']}", "old_status": None, "new_status": r["status"],
         "new_benefit": r["benefit"]}
        for r in rows
    ]  # fmt: skip
    settings = get_settings()
    recipients = {r["recipient_id"] for r in rows}
    ctx = PlanContext(
        now=SystemClock().now(), tz=settings.tz, quiet_hours=quiet_hours_of(settings),
        contacts=ContactStore(get_engine()).load(recipients),
    )  # fmt: skip
    result = plan(candidates_from_changes(changes, catalog.by_id), ctx)
    for r in rows:
        if r["subject_type"] == "household":
            members = residents.filter(pl.col("household_id") == r["subject_id"])
            others = members.filter(pl.col("person_id") != r["recipient_id"]).height
            about = f"household {r['subject_id']} ({members.height} members)"
            rest = f"the other {others} members are told nothing of it"
            role = "its contact person or head"
        else:
            child = residents.filter(pl.col("person_id") == r["subject_id"]).row(0, named=True)
            roles = {child["father_id"]: "father", child["mother_id"]: "mother"}
            role = "guardian" if child["guardian_id"] else roles.get(r["recipient_id"], "guardian")
            other = next((p for p, name in roles.items() if p != r["recipient_id"]), None)
            about = f"child {r['subject_id']}"
            rest = f"the {roles[other]} {other} is told nothing of it" if other else "told once"
        messages = [m for m in result.messages if any(c.subject_id == r["subject_id"]
                                                       for c in m.items)]  # fmt: skip
        to = ", ".join(f"{m.subject_id} ({role}) by {m.channel}" for m in messages)
        console.print(
            f"  {r['title']} for {about}: {len(messages)} message to {to or 'nobody'}; {rest}"
        )
