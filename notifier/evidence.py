"""Evidence for notices: the explanation, clause by clause, of why a subject was matched.

An I/O edge around :func:`rules.explainer.explain`: it reads the subjects being told from a
:class:`~matcher.live.source.SubjectSource` (a population directory: one filtered scan per file,
not one per subject), with the tags their events give on the as-of date and their households,
members and staff (:mod:`matcher.live.groups`), and explains each
(subject, policy) asked for.  Grant records keep it as their evidence; messages quote it as
the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from matcher.live.source import FileSource, SubjectSource
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
        from profiles.schema import load_schema

        self.source: SubjectSource = FileSource(directory, load_schema())
        self.schema = self.source.schema
        self.policies = policies
        self.as_of = as_of
        self._records: dict[str, tuple[str, dict[str, Any]]] = {}
        self._rules: dict[str, Any] = {}

    def load(self, subject_ids: Iterable[str]) -> None:
        """Read the records of ``subject_ids`` (one scan per file, not one per subject)."""
        from profiles.derive import derive_record

        wanted = set(subject_ids) - set(self._records)
        found = self.source.tagged(wanted, self.as_of)
        # With their households, members and staff, as the batch run matched them.
        groups = self.source.groups(found) if found else None
        for subject_id, (entity, record) in found.items():
            derived = derive_record(record, entity, as_of=self.as_of)
            if groups is not None:
                derived = groups.apply(derived, entity, as_of=self.as_of)
            self._records[subject_id] = (entity.name, derived)

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
