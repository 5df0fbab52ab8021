"""What a ranking model may read and cite: chosen by the schema's one sensitivity attribute.

A reason shown to a resident, an officer or in a notice may cite only what is **citable**:
fields the schema marks ``ordinary``, the policy's own attributes (amount, mode, period,
department), the pair's eligibility status, and the subject's own behaviour (opened, applied).
Protected characteristics (gender, age, disability, health) and sensitive ones (income, social
assistance) are never cited — and, by default, never read, so the reasons of a score explain
all of it.  Reading them is for audits only (``zhida rank train --audit-features``).

A life-cycle tag is as sensitive as the most sensitive thing it reads: a profile field
(``approaching_80`` reads ``age``: protected), or a service item whose mere occurrence reveals
a protected or sensitive characteristic (:data:`ITEM_SENSITIVITY`: a disability certificate,
a medical claim, an application for social assistance or elderly care).

>>> from profiles.schema import load_schema
>>> from profiles.tagging import load_tags
>>> tags = {t.id: t for t in load_tags()}
>>> schema = load_schema()
>>> [tag_sensitivity(tags[t], schema) for t in ("new_parent", "approaching_80", "newly_disabled")]
['ordinary', 'protected', 'protected']
>>> is_citable("ordinary"), is_citable("sensitive"), is_citable(None)
(True, False, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from profiles.schema import SENSITIVITIES, Schema, Sensitivity
from profiles.tagging import Condition, TagDefinition

__all__ = [
    "ITEM_SENSITIVITY",
    "is_citable",
    "most_sensitive",
    "tag_sensitivities",
    "tag_sensitivity",
]

# Service items (办件事项) whose occurrence alone tells a protected or sensitive fact about the
# subject.  The schema gives one sensitivity per field, not per enum value, so the values of
# ``item_code`` that reveal more than the field's own sensitivity are listed here.
ITEM_SENSITIVITY: Mapping[str, Sensitivity] = {
    "disability_certification": "protected",  # disability
    "medical_insurance_claim": "protected",  # health
    "elderly_care_application": "protected",  # age and health
    "subsistence_application": "sensitive",  # social assistance
}


def is_citable(sensitivity: str | None) -> bool:
    """Whether a feature of this sensitivity may be read and cited (None: not known, so not)."""
    return sensitivity == "ordinary"


def most_sensitive(levels: Iterable[str]) -> Sensitivity:
    """The most identifying of ``levels`` (``ordinary`` when there are none).

    >>> most_sensitive(["ordinary", "sensitive", "protected"])
    'protected'
    """
    found = [SENSITIVITIES.index(level) for level in levels if level in SENSITIVITIES]
    return SENSITIVITIES[min(found)] if found else "ordinary"


def _levels(condition: Condition, schema: Schema, audience: str) -> list[str]:
    if condition.parts:
        return [level for part in condition.parts for level in _levels(part, schema, audience)]
    levels: list[str] = [ITEM_SENSITIVITY.get(item, "ordinary") for item in condition.items]
    if condition.field is not None:
        entity = schema.entity(audience)
        field = entity.by_name.get(condition.field)
        levels.append(field.sensitivity if field is not None else "protected")  # unknown: safe
    return levels


def tag_sensitivity(tag: TagDefinition, schema: Schema) -> Sensitivity:
    """How sensitive ``tag`` is: the most sensitive field or service item its rule reads."""
    return most_sensitive(_levels(tag.when, schema, tag.audience))


def tag_sensitivities(tags: Iterable[TagDefinition], schema: Schema) -> dict[str, Sensitivity]:
    """Tag id -> its sensitivity, for every tag of a library."""
    return {t.id: tag_sensitivity(t, schema) for t in tags}
