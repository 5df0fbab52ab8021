"""The values of sharded runs: shards, the run as stored, the plan request; how a run is cut.

Frozen values only: the store reads and writes them, workers pass them to matching.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from core.errors import ValidationError, ZhidaError
from rules.policy import Policy

SHARD_QUEUE = "match_shards"
DEFAULT_SHARD_ROWS = 250_000


class FinishedElsewhereError(ZhidaError, RuntimeError):
    """Another process recorded the sharded run first; this finisher's transaction rolled back."""


@dataclass(frozen=True)
class Shard:
    """Rows ``[row_offset, row_offset + row_count)`` of one entity's population file."""

    shard_no: int
    entity: str
    row_offset: int
    row_count: int


@dataclass(frozen=True)
class PlanRequest:
    """Plan the run's diff when the run is recorded, in the same transaction.

    ``policies`` is the whole catalog, not only the rules in force: a policy that left force
    since the previous run is in the diff too (its notices need its title and department).
    """

    channels: frozenset[str]
    policies: tuple[Policy, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "channels": sorted(self.channels),
            "policies": [p.to_dict() for p in self.policies],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlanRequest:
        return cls(frozenset(data["channels"]), tuple(_policy(d) for d in data["policies"]))


def _policy(data: Mapping[str, Any]) -> Policy:
    """A policy from its ``to_dict`` form.

    >>> p = Policy("x", "T", "D", "resident", "proactive_push", "age > 1", date(2026, 1, 1),
    ...            materials=("id card",))
    >>> _policy(p.to_dict()) == p
    True
    """
    fields = dict(data)
    for key in ("valid_from", "valid_until"):
        if fields.get(key):
            fields[key] = date.fromisoformat(fields[key])
    if "materials" in fields:
        fields["materials"] = tuple(fields["materials"])
    return Policy(**fields)


@dataclass(frozen=True)
class ShardRun:
    run_key: str
    as_of: date
    population_dir: Path
    population: str
    catalog_hash: str
    policies: tuple[RunPolicy, ...]
    tags: bool
    shards: int
    status: str
    run_id: int | None
    plan: PlanRequest | None = None

    @property
    def rule_hashes(self) -> dict[str, str]:
        return {p.id: p.rule_hash for p in self.policies if p.rule_hash}


@dataclass(frozen=True)
class RunPolicy:
    """What matching needs of a policy, as the run stored it (a ``MatchablePolicy``)."""

    id: str
    audience: str
    eligibility: str
    benefit: str | None
    valid_from: date | None
    valid_until: date | None
    rule_hash: str = ""
    unit_kind: str = ""  # whose benefit (matcher.units); "": the audience's own subject
    recipient_kind: str = "self"  # who is told

    @classmethod
    def of(cls, policy: Any) -> RunPolicy:
        return cls(
            policy.id,
            policy.audience,
            policy.eligibility,
            policy.benefit,
            policy.valid_from,
            policy.valid_until,
            getattr(policy, "content_hash", ""),
            getattr(policy, "unit_kind", ""),
            getattr(policy, "recipient_kind", "self"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "audience": self.audience,
            "eligibility": self.eligibility,
            "benefit": self.benefit,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "rule_hash": self.rule_hash,
            "unit": self.unit_kind,
            "recipient": self.recipient_kind,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunPolicy:
        def day(v: str | None) -> date | None:
            return date.fromisoformat(v) if v else None

        return cls(
            data["id"],
            data["audience"],
            data["eligibility"],
            data["benefit"],
            day(data["valid_from"]),
            day(data["valid_until"]),
            data.get("rule_hash", ""),
            data.get("unit", ""),
            data.get("recipient", "self"),
        )


def plan_shards(counts: Mapping[str, int], shard_rows: int) -> list[Shard]:
    """Cut each entity's rows into contiguous shards of at most ``shard_rows`` rows.

    >>> [(s.shard_no, s.entity, s.row_offset, s.row_count)
    ...  for s in plan_shards({"resident": 5, "enterprise": 2}, 2)]
    [(0, 'resident', 0, 2), (1, 'resident', 2, 2), (2, 'resident', 4, 1), (3, 'enterprise', 0, 2)]
    """
    if shard_rows < 1:
        raise ValidationError(f"shard size must be at least 1 row, got {shard_rows}")
    shards: list[Shard] = []
    for entity, total in counts.items():
        for offset in range(0, total, shard_rows):
            shards.append(Shard(len(shards), entity, offset, min(shard_rows, total - offset)))
    return shards
