"""A parameter change simulated as a reform equals the same change written into the rules."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from api.cli import main
from profiles.schema import load_schema
from rules.loader import load_catalog
from rules.parameters import builtin_library
from simulations.reach import simulate_reach
from tests.scalars import number

CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"
ON = date(2026, 6, 30)


def test_the_parameter_reform_equals_the_literal_draft(tmp_path: Path) -> None:
    pop = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "6000", "--enterprises", "100"]
    assert main([*argv, "--seed", "5", "--out", str(pop)]) == 0
    draft = tmp_path / "draft"
    draft.mkdir()
    written = 0
    for path in CATALOG.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        changed = re.sub(r"parameters\.dibao_standard|参数\.低保标准", "1500", text)
        written += changed != text
        (draft / path.name).write_text(changed, encoding="utf-8")
    assert written >= 1  # the catalog reads the standard somewhere
    schema = load_schema()
    baseline = load_catalog([CATALOG], schema)
    by_text = simulate_reach(pop, baseline, load_catalog([draft], schema), schema, as_of=ON)
    reformed = builtin_library().with_override("dibao_standard=1500", on=ON)
    by_parameter = simulate_reach(
        pop, baseline, baseline, schema, as_of=ON, parameters=(builtin_library(), reformed)
    )
    assert {c.policy_id for c in by_parameter.changes} == {c.policy_id for c in by_text.changes}
    columns = [c for c in by_text.policies.columns if c != "change"]
    assert (
        by_parameter.policies.select(columns)
        .sort("policy_id")
        .equals(by_text.policies.select(columns).sort("policy_id"))
    )
    assert number(by_parameter.total["newly_eligible"]) > 0  # the figures compared are not all zero
