"""A policy: who it is for, what it grants, how it reaches them — one YAML document.

The keys of DESIGN.md are a contract; the optional keys after them are what delivery needs
(``rules/catalog/README.md`` documents them all).

>>> p = Policy(id="bj-x", title="示例", department="北京市民政局", audience="resident",
...            mode="auto_grant", eligibility="age >= 80", valid_from=date(2016, 1, 1))
>>> p.in_force(date(2026, 1, 1)), p.in_force(date(2015, 12, 31))
(True, False)
>>> len(p.content_hash)
64

Who a benefit belongs to (``unit``) and who is told of it (``recipient``) default to the
audience's own subject, told to itself; a per-resident rule may give its benefit to the
household (counted once, told to the head) or tell a child's offer to one guardian:

>>> p.unit_kind, p.recipient_kind
('person', 'self')
>>> Policy(id="bj-d", title="低保", department="民政", audience="resident", mode="proactive_push",
...        eligibility="age >= 0", valid_from=date(2024, 7, 1), unit="household").recipient_kind
'head'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Final, Literal

from rules.relations import Relation

__all__ = [
    "AUDIENCES",
    "BENEFIT_PERIODS",
    "CATEGORIES",
    "MODES",
    "OPTIONAL_KEYS",
    "POLICY_KEYS",
    "PROVENANCES",
    "RECIPIENTS",
    "REQUIRED_KEYS",
    "UNITS",
    "UNIT_OF_AUDIENCE",
    "Policy",
    "unit_problem",
]

Audience = Literal["resident", "enterprise", "household"]
Mode = Literal["auto_grant", "proactive_push", "fast_track"]
Period = Literal["once", "month", "year"]
Unit = Literal["person", "household", "enterprise"]
Recipient = Literal["self", "head", "guardian"]
Provenance = Literal["cited", "modelled"]

AUDIENCES: Final = ("resident", "enterprise", "household")
# Who a benefit belongs to: counted once per unit in amounts, costs, reach and run diffs.
UNITS: Final = ("person", "household", "enterprise")
# Who is told: the unit itself; the household's contact person (else its head); a child's
# guardian (guardian_id, else mother_id, else father_id), once per child.
RECIPIENTS: Final = ("self", "head", "guardian")
UNIT_OF_AUDIENCE: Final = {
    "resident": "person",
    "household": "household",
    "enterprise": "enterprise",
}
# The units (and recipients) each audience's rules may declare.
_ALLOWED: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "resident": {"person": ("self", "head", "guardian"), "household": ("head",)},
    "household": {"household": ("head",)},
    "enterprise": {"enterprise": ("self",)},
}
MODES: Final = ("auto_grant", "proactive_push", "fast_track")
# The categories residents opt out of by name: a fixed list, so "养老服务" does not appear
# beside "养老" (issue 17).  The built-in catalog's categories, each once.
CATEGORIES: Final = (
    "养老", "助残", "社会救助", "儿童福利", "生育", "教育", "住房保障", "优抚", "社会保险",
    "就业", "稳就业", "创业", "减税降费", "科技创新", "营商环境", "纾困",
)  # fmt: skip
BENEFIT_PERIODS: Final = ("once", "month", "year")
# Where a policy's conditions and figures come from: ``cited`` (its legal text, SOURCES.md) or
# ``modelled`` (some part stands in for what the text or the schema does not give; the note says
# which part and why), shown wherever its figures appear (issue 16).
PROVENANCES: Final = ("cited", "modelled")
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
    "application_conditions",
    "where",
    "apply_url",
    "contact",
    "objection_days",
    "unit",
    "recipient",
    "relations",
    "provenance",
    "provenance_note",
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
    # conditions checked at application: what no record shows, in words (not on auto_grant)
    application_conditions: tuple[str, ...] = field(default=())
    where: str | None = None  # where to apply
    apply_url: str | None = None
    contact: str | None = None
    objection_days: int | None = None  # auto_grant: days to object or decline
    unit: Unit | None = None  # None: the audience's own subject (UNIT_OF_AUDIENCE)
    recipient: Recipient | None = None  # None: self, or the head for a household unit
    # how it stands to published policies: replaces / supplements / excludes (rules.relations)
    relations: tuple[Relation, ...] = field(default=())
    provenance: Provenance | None = None  # None: not declared (the catalog declares every one)
    provenance_note: str | None = None  # what is modelled and why (required with modelled)

    @property
    def modelled(self) -> bool:
        """Some of the policy's conditions or figures are modelled, not cited (``provenance``)."""
        return self.provenance == "modelled"

    @property
    def unit_kind(self) -> str:
        """Who the benefit belongs to: ``unit``, else the audience's own subject."""
        return self.unit or UNIT_OF_AUDIENCE.get(self.audience, "person")

    @property
    def recipient_kind(self) -> str:
        """Who is told: ``recipient``, else the unit itself (a household's head)."""
        if self.recipient is not None:
            return self.recipient
        return "head" if self.unit_kind == "household" else "self"

    def in_force(self, on: date) -> bool:
        """Valid on ``on`` (both ends inclusive)."""
        return self.valid_from <= on and (self.valid_until is None or on <= self.valid_until)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the rule-relevant content: equal hashes match the same people alike."""
        rule = {k: _plain(getattr(self, k)) for k in _RULE_KEYS}
        # Declared only when set, so the versions written before these keys keep their hash.
        rule |= {k: getattr(self, k) for k in ("unit", "recipient") if getattr(self, k)}
        return hashlib.sha256(json.dumps(rule, sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in asdict(self).items() if v not in (None, ())}


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def unit_problem(audience: str, unit: str | None, recipient: str | None) -> str | None:
    """What is wrong with a policy's ``unit`` and ``recipient`` for its audience, or None.

    >>> unit_problem("resident", "household", None) is None
    True
    >>> unit_problem("enterprise", "household", None)[:57]
    "an enterprise policy's benefit belongs to the enterprise:"
    >>> unit_problem("resident", "household", "guardian")[-38:]
    'use recipient: head, or drop recipient'
    """
    allowed = _ALLOWED.get(audience)
    if allowed is None:
        return None  # the audience itself is refused elsewhere
    kind = unit or UNIT_OF_AUDIENCE[audience]
    article = "an" if audience[0] in "aeiou" else "a"
    if kind not in allowed:
        return (
            f"{article} {audience} policy's benefit belongs to the {UNIT_OF_AUDIENCE[audience]}: "
            f"drop unit: {kind} (allowed: {', '.join(allowed)})"
        )
    told = allowed[kind]
    if recipient is not None and recipient not in told:
        if kind == "household":
            return (
                "a household benefit is told to the household's head (or its contact person): "
                "use recipient: head, or drop recipient"
            )
        return (
            f"{article} {audience} policy with unit {kind} is told to itself: drop recipient: "
            f"{recipient} (allowed: {', '.join(told)})"
        )
    return None
