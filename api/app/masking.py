"""What of a profile a reader may see: the subject sees everything; anyone else sees every field
whose schema sensitivity is not ``ordinary`` masked (:attr:`profiles.schema.Field.masked`):
identifiers and quasi-identifiers keep their ends or their year, protected and sensitive values
are hidden whole.  A value computed from such a field (a benefit reading the income) is masked
as the field is (:func:`derived_masked`).

>>> from profiles.schema import load_schema
>>> entity = load_schema().entity("resident")
>>> shown = profile_fields({"person_id": "110101194001010011", "age": 86, "name": "王芳"},
...                        entity, own=False)
>>> [(f.name, f.value) for f in shown if f.name in ("person_id", "age", "name")]
[('person_id', '1101**********0011'), ('name', '王*'), ('age', '***')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from profiles.schema import Entity

__all__ = ["ProfileField", "derived_masked", "mask", "profile_fields", "shown"]


@dataclass(frozen=True)
class ProfileField:
    name: str
    label: str  # Chinese name from the schema
    value: Any
    masked: bool


def mask(value: Any) -> str | None:
    """Keep the ends of a long identifier, the first character of a short text, a date's year.

    >>> mask("13800001234"), mask("王芳"), mask(date(1940, 5, 1)), mask(None)
    ('1380***1234', '王*', '1940-**-**', None)
    """
    if value is None:
        return None
    if isinstance(value, date):
        return f"{value.year}-**-**"
    text = str(value)
    if len(text) >= 8:
        return text[:4] + "*" * (len(text) - 8) + text[-4:]
    return text[:1] + "*" * (len(text) - 1)


def shown(value: Any, sensitivity: str) -> Any:
    """A value of a field of ``sensitivity`` as staff see it: ordinary values as they are,
    identifiers and quasi-identifiers by :func:`mask`, protected and sensitive values hidden
    whole (a number shows not even its digit count).

    >>> shown(3200.0, "sensitive"), shown("male", "protected"), shown("北京市", "ordinary")
    ('***', '***', '北京市')
    >>> shown("110101194001010011", "identifier"), shown(None, "sensitive")
    ('1101**********0011', None)
    """
    if value is None or sensitivity == "ordinary":
        return value
    if sensitivity in ("protected", "sensitive") or isinstance(value, bool | int | float | Decimal):
        return "***"
    return mask(value)


def derived_masked(fields: Iterable[str], entity: Entity) -> bool:
    """Whether a value computed from ``fields`` (a benefit, a counterfactual) is masked for
    staff: when any of them is.

    >>> from profiles.schema import load_schema
    >>> r = load_schema().resident
    >>> derived_masked(["monthly_income"], r), derived_masked(["hukou_city"], r)
    (True, False)
    """
    return any(entity.by_name[n].masked for n in fields if n in entity.by_name)


def profile_fields(record: Mapping[str, Any], entity: Entity, *, own: bool) -> list[ProfileField]:
    """The schema's fields of ``record`` in schema order; all but ordinary ones masked unless
    ``own``."""
    out = []
    for f in entity.fields:
        if f.name not in record:
            continue
        hide = f.masked and not own
        value = shown(record[f.name], f.sensitivity) if hide else record[f.name]
        out.append(ProfileField(f.name, f.name_zh or f.zh, value, hide))
    return out
