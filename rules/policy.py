"""A policy: who it is for, what it grants, how it reaches them — one YAML document.

The keys of DESIGN.md are a contract; the optional keys after them are what delivery needs
(``rules/catalog/README.md`` documents them all).

>>> p = Policy(id="bj-x", title="示例", department="北京市民政局", audience="resident",
...            mode="auto_grant", eligibility="age >= 80", valid_from=date(2016, 1, 1))
>>> p.in_force(date(2026, 1, 1)), p.in_force(date(2015, 12, 31))
(True, False)
>>> len(p.content_hash)
64
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Final, Literal

__all__ = [
    "AUDIENCES",
    "BENEFIT_PERIODS",
    "MODES",
    "OPTIONAL_KEYS",
    "POLICY_KEYS",
    "REQUIRED_KEYS",
    "Policy",
]

Audience = Literal["resident", "enterprise"]
Mode = Literal["auto_grant", "proactive_push", "fast_track"]
Period = Literal["once", "month", "year"]

AUDIENCES: Final = ("resident", "enterprise")
MODES: Final = ("auto_grant", "proactive_push", "fast_track")
BENEFIT_PERIODS: Final = ("once", "month", "year")
REQUIRED_KEYS: Final = (
    "id",
    "title",
    "department",
    "audience",
    "mode",
    "eligibility",
    "valid_from",
)
OPTIONAL_KEYS: Final = (
    "title_en",
    "basis",
    "benefit",
    "benefit_period",
    "valid_until",
    "category",
    "summary",
    "summary_en",
    "materials",
    "where",
    "apply_url",
    "contact",
    "objection_days",
)
POLICY_KEYS: Final = REQUIRED_KEYS + OPTIONAL_KEYS
# The keys whose change changes who is matched or what they get.
_RULE_KEYS: Final = (
    "audience",
    "eligibility",
    "benefit",
    "benefit_period",
    "valid_from",
    "valid_until",
)


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    department: str
    audience: Audience
    mode: Mode
    eligibility: str
    valid_from: date
    title_en: str | None = None
    basis: str | None = None
    benefit: str | None = None
    benefit_period: Period | None = None
    valid_until: date | None = None
    category: str | None = None
    summary: str | None = None  # one sentence: why the subject is told
    summary_en: str | None = None
    materials: tuple[str, ...] = field(default=())  # what to prepare (proactive_push)
    where: str | None = None  # where to apply
    apply_url: str | None = None
    contact: str | None = None
    objection_days: int | None = None  # auto_grant: days to object or decline

    def in_force(self, on: date) -> bool:
        """Valid on ``on`` (both ends inclusive)."""
        return self.valid_from <= on and (self.valid_until is None or on <= self.valid_until)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the rule-relevant content: equal hashes match the same people alike."""
        rule = {k: _plain(getattr(self, k)) for k in _RULE_KEYS}
        return hashlib.sha256(json.dumps(rule, sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in asdict(self).items() if v not in (None, ())}


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value
