"""What of a profile a reader may see: the subject sees everything; anyone else sees sensitive
fields (as marked in the profile schema) masked.

>>> from profiles.schema import load_schema
>>> entity = load_schema().entity("resident")
>>> shown = profile_fields({"person_id": "110101194001010011", "age": 86, "name": "王芳"},
...                        entity, own=False)
>>> [(f.name, f.value) for f in shown if f.name in ("person_id", "age", "name")]
[('person_id', '1101**********0011'), ('name', '王*'), ('age', 86)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from profiles.schema import Entity

__all__ = ["ProfileField", "mask", "profile_fields"]


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


def profile_fields(record: Mapping[str, Any], entity: Entity, *, own: bool) -> list[ProfileField]:
    """The schema's fields of ``record`` in schema order; sensitive ones masked unless ``own``."""
    out = []
    for f in entity.fields:
        if f.name not in record:
            continue
        hide = f.sensitive and not own
        value = mask(record[f.name]) if hide else record[f.name]
        out.append(ProfileField(f.name, f.name_zh or f.zh, value, hide))
    return out
