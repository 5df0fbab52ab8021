"""Official totals the synthetic population is weighted to, read from ``targets.yaml``.

A target counts the records of one entity that satisfy ``where`` (the rule language); a group
(``by`` + ``shares``) becomes one target per value.  :func:`load_targets` checks every entry and
names the one at fault, so a typo never silently drops a total.

>>> targets = load_targets()
>>> by_id = {t.id: t for t in targets}
>>> by_id["aged_80_plus"].value, by_id["aged_80_plus"].use
(687000.0, 'fit')
>>> round(by_id["district:延庆区"].value)
344946
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from core.errors import InputFileError, ValidationError
from core.safe_yaml import RefusedYamlError, load_document

__all__ = ["DEFAULT_TARGETS", "Target", "TargetsError", "load_targets"]

DEFAULT_TARGETS: Final = Path(__file__).with_name("targets.yaml")
ENTITIES: Final = ("resident", "household", "enterprise")
Use = Literal["fit", "held_out"]


class TargetsError(ValidationError):
    """A targets file that cannot be used as it is."""


@dataclass(frozen=True)
class Target:
    """One official total: how many ``entity`` records satisfy ``where`` in Beijing."""

    id: str
    label: str
    entity: str
    where: str | None
    value: float
    tolerance: float
    use: Use
    verified: bool
    year: int
    source: str
    url: str | None = None

    @property
    def fitted(self) -> bool:
        """Used for weighting: a verified target marked ``use: fit``."""
        return self.use == "fit" and self.verified

    @property
    def role(self) -> str:
        """``fit``, ``held-out`` or ``unverified``, as the report prints it."""
        if not self.verified:
            return "unverified"
        return "fit" if self.use == "fit" else "held-out"


def _fail(path: Path, where: str, message: str) -> TargetsError:
    return TargetsError(f"{path}: {where}: {message}")


_KEYS: Final = frozenset(
    {"id", "label", "entity", "where", "value", "share", "of", "by", "shares", "year",
     "tolerance", "use", "verified", "source", "url"}
)  # fmt: skip


def _number(path: Path, at: str, raw: dict[str, Any], key: str) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _fail(path, at, f"{key!r} must be a number of zero or more (got {value!r})")
    return float(value)


def _entry(path: Path, index: int, raw: Any, known: dict[str, Target]) -> list[Target]:
    at = f"target {index + 1}"
    if not isinstance(raw, dict):
        raise _fail(path, at, "expected a mapping with id, entity, value or share, source, …")
    at = f"target {raw.get('id', index + 1)!s}"
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise _fail(path, at, f"unknown key(s) {', '.join(unknown)}; allowed: {sorted(_KEYS)}")
    for key in ("id", "entity", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise _fail(path, at, f"{key!r} is required (a non-empty text)")
    if raw["entity"] not in ENTITIES:
        raise _fail(
            path, at, f"entity must be one of {', '.join(ENTITIES)} (got {raw['entity']!r})"
        )
    use = raw.get("use", "held_out")
    if use not in ("fit", "held_out"):
        raise _fail(path, at, f"use must be fit or held_out (got {use!r})")
    verified = raw.get("verified", False)
    if not isinstance(verified, bool):
        raise _fail(path, at, "verified must be true or false")
    tolerance = _number(path, at, raw, "tolerance")
    if not 0 < tolerance < 1:
        raise _fail(path, at, f"tolerance is a relative gap between 0 and 1 (got {tolerance})")
    year = raw.get("year")
    if not isinstance(year, int) or not 1900 <= year <= 2100:
        raise _fail(path, at, f"year must be the year the figure describes (got {year!r})")
    base: float | None = None
    if "of" in raw:
        parent = known.get(str(raw["of"]))
        if parent is None:
            raise _fail(path, at, f"of: {raw['of']!r} names no target above this one")
        base = parent.value
    common = {
        "label": str(raw.get("label") or raw["id"]),
        "entity": raw["entity"],
        "tolerance": tolerance,
        "use": use,
        "verified": verified,
        "year": year,
        "source": raw["source"].strip(),
        "url": raw.get("url"),
    }
    if "by" in raw:
        shares = raw.get("shares")
        if base is None or not isinstance(shares, dict) or not shares:
            raise _fail(path, at, "a group (by: FIELD) needs of: TARGET and shares: {VALUE: %}")
        out = []
        for value, share in shares.items():
            pct = _number(path, at, {"share": share}, "share")
            out.append(
                Target(
                    id=f"{raw['id']}:{value}",
                    where=f"{raw['by']} == {_quoted(str(value))}",
                    value=base * pct / 100,
                    **common,
                )
            )
        return out
    if "share" in raw:
        if base is None:
            raise _fail(path, at, "share: is a percentage of another target; add of: TARGET")
        value = base * _number(path, at, raw, "share") / 100
    else:
        value = _number(path, at, raw, "value")
    where = raw.get("where")
    if where is not None and (not isinstance(where, str) or not where.strip()):
        raise _fail(path, at, "where must be a rule, e.g. age >= 60 (or left out to count all)")
    return [Target(id=raw["id"], where=where, value=value, **common)]


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load_targets(path: Path | None = None) -> tuple[Target, ...]:
    """The targets in ``path`` (default: the Beijing targets beside this module)."""
    path = path or DEFAULT_TARGETS
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read targets file {path}: {exc.strerror}") from exc
    try:
        _node, data = load_document(text)
    except (yaml.YAMLError, RefusedYamlError) as exc:
        raise TargetsError(f"{path}: not valid YAML: {exc}") from None
    entries = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise TargetsError(f"{path}: expected a mapping with a non-empty list under 'targets:'")
    known: dict[str, Target] = {}
    for index, raw in enumerate(entries):
        for target in _entry(path, index, raw, known):
            if target.id in known:
                raise _fail(path, f"target {target.id}", "the id is used twice")
            known[target.id] = target
    return tuple(known.values())
