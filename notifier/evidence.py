"""Evidence for notices: the explanation, clause by clause, of why a subject was matched.

An I/O edge around :func:`rules.explainer.explain`: it reads the records of the subjects being
told (one filtered scan per entity, not one per subject) and explains each (subject, policy)
asked for.  Grant records keep it as their evidence; messages quote it as the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from rules.policy import Policy

__all__ = ["PopulationEvidence", "reason_lines"]


def reason_lines(explanation: Mapping[str, Any]) -> list[str]:
    """The clauses that held, and for a maybe what would settle it — one line each.

    >>> reason_lines({"clauses": [{"text": "age >= 80", "result": True}],
    ...               "settle": [{"field": "hukou_city", "eligible_if": ['hukou_city == "北京市"'],
    ...                           "eligible_values": []}]})
    ['age >= 80 ✓', '待确认 hukou_city: hukou_city == "北京市"']
    """
    lines = [f"{c['text']} ✓" for c in explanation.get("clauses", []) if c.get("result")]
    for s in explanation.get("settle", []):
        ask = " 或 ".join(s.get("eligible_if") or []) or ", ".join(
            map(str, s.get("eligible_values") or [])
        )
        lines.append(f"待确认 {s['field']}" + (f": {ask}" if ask else ""))
    return lines


class PopulationEvidence:
    """Explanations for subjects of a population directory at an as-of date."""

    def __init__(self, directory: Path, policies: Mapping[str, Policy], *, as_of: date) -> None:
        from matcher.population import attach_tags, scan_population
        from profiles.schema import load_schema

        self.schema = load_schema()
        self.policies = policies
        self.as_of = as_of
        self.frames = attach_tags(
            scan_population(directory, self.schema), directory, self.schema, as_of=as_of
        )
        self._records: dict[str, tuple[str, dict[str, Any]]] = {}
        self._rules: dict[str, Any] = {}

    def load(self, subject_ids: Iterable[str]) -> None:
        """Read the records of ``subject_ids`` (one scan per entity)."""
        from profiles.derive import with_derived

        wanted = sorted(set(subject_ids) - set(self._records))
        for name, frame in self.frames.items():
            entity = self.schema.entity(name)
            assert entity.key is not None
            rows = with_derived(
                frame.filter(pl.col(entity.key).is_in(wanted)), entity, as_of=self.as_of
            ).collect()
            for record in rows.iter_rows(named=True):
                self._records[record[entity.key]] = (name, record)

    def __call__(self, subject_id: str, policy_id: str) -> dict[str, Any]:
        """The explanation as a dict (``{}`` when the subject's record is not there)."""
        from rules.explainer import explain
        from rules.language import parse_rule

        found = self._records.get(subject_id)
        policy = self.policies.get(policy_id)
        if found is None or policy is None:
            return {}
        name, record = found
        rule = self._rules.get(policy_id)
        if rule is None:
            rule = self._rules[policy_id] = parse_rule(policy.eligibility, self.schema.entity(name))
        return explain(rule, record, as_of=self.as_of, schema=self.schema).to_dict()
