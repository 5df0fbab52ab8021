"""Tag definitions (标签库): declarative life-cycle tags computed from service events.

A tag is one YAML file::

    id: new_parent
    audience: resident
    name_zh: 新生儿父母
    zh: 近12个月办理了出生登记
    en: Registered a birth in the last 12 months
    owner: 北京市卫生健康委员会
    when:
      events: {items: [birth_registration], within: P12M}

A condition (``when``) is one of:

- ``events: {items: [...], within: P12M, at_least: 1, at_most: N}`` — how many of the subject's
  events of those items fall in the window ending on the as-of date;
- ``no_events: {items: [...], within: P6M}`` — none in the window (recency);
- ``first_event: {items: [...], within: P12M}`` — the subject's first-ever such event falls in
  the window ("newly …");
- ``field: {name: age, op: "==", value: 79}`` (ops ``== != < <= > >= in``) — a profile field,
  derived ones included; an unknown value does not give the tag;
- ``all: [...]``, ``any: [...]``, ``none: [...]`` — combinations.

Windows are ISO-8601 durations of years, months or days (``P1Y``, ``P6M``, ``P30D``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.errors import InputFileError
from core.errors import ValidationError as _ValidationError
from core.safe_yaml import RefusedYamlError, load_document
from profiles.schema import Schema, load_schema

__all__ = [
    "BUILT_IN_TAGS",
    "Condition",
    "TagDefinition",
    "TagError",
    "TagLibraryError",
    "Window",
    "load_tags",
]

BUILT_IN_TAGS = Path(__file__).resolve().parents[1] / "tags"
_KEYS = ("id", "audience", "name_zh", "zh", "en", "owner", "when")
_KINDS = ("events", "no_events", "first_event", "field", "all", "any", "none")
_OPS = ("==", "!=", "<", "<=", ">", ">=", "in")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")


class TagError(_ValidationError):
    """A problem at ``path:line:col`` of a tag definition."""

    def __init__(self, message: str, *, path: str, line: int, col: int) -> None:
        self.path, self.line, self.col, self.detail = path, line, col, message
        super().__init__(f"{path}:{line}:{col}: {message}")


class TagLibraryError(_ValidationError):
    def __init__(self, problems: list[TagError]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.path, p.line, p.col))
        n = len(self.problems)
        super().__init__("\n".join(str(p) for p in self.problems) + f"\n{n} problem(s) found")


@dataclass(frozen=True)
class Window:
    years: int = 0
    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> Window | None:
        match = _DURATION.match(text)
        if not match or not any(match.groups()):
            return None
        y, m, d = (int(g) if g else 0 for g in match.groups())
        return cls(y, m, d)

    def iso(self) -> str:
        parts = [
            f"{v}{u}" for v, u in ((self.years, "Y"), (self.months, "M"), (self.days, "D")) if v
        ]
        return "P" + "".join(parts)


@dataclass(frozen=True)
class Condition:
    kind: str  # one of _KINDS
    items: tuple[str, ...] = ()
    window: Window | None = None
    at_least: int = 1
    at_most: int | None = None
    field: str | None = None
    op: str | None = None
    value: Any = None
    parts: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class TagDefinition:
    id: str
    audience: str
    name_zh: str
    zh: str
    en: str
    owner: str
    when: Condition


class _Reader:
    def __init__(self, path: Path, text: str, schema: Schema) -> None:
        self.path, self.text, self.schema = path, text, schema
        self.problems: list[TagError] = []

    def problem(self, node: yaml.Node | None, message: str) -> None:
        line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
        self.problems.append(TagError(message, path=str(self.path), line=line, col=col))

    def read(self) -> TagDefinition | None:
        try:
            root, data = load_document(self.text)  # no anchors or aliases, bounded size
        except RefusedYamlError as exc:
            self.problems.append(
                TagError(str(exc.problem), path=str(self.path), line=exc.line, col=exc.col)
            )
            return None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            self.problems.append(
                TagError(f"not valid YAML: {exc.problem}", path=str(self.path),
                         line=(mark.line + 1) if mark else 1, col=(mark.column + 1) if mark else 1)
            )  # fmt: skip
            return None
        if not isinstance(root, yaml.MappingNode):
            self.problem(root, "a tag file holds one mapping (id:, audience:, when:, …)")
            return None
        nodes = {str(k.value): v for k, v in root.value}
        for key in nodes:
            if key not in _KEYS:
                near = difflib.get_close_matches(key, _KEYS, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else f"; allowed: {', '.join(_KEYS)}"
                self.problem(
                    next(k for k, _ in root.value if k.value == key), f"unknown key {key!r}{hint}"
                )
        for key in _KEYS:
            if key not in nodes:
                self.problem(root, f"missing required key {key!r}")
        if self.problems:
            return None
        if not isinstance(data["id"], str) or not _ID.match(data["id"]):
            self.problem(
                nodes["id"], "id must be snake_case letters, digits and '_', e.g. new_parent"
            )
        audience = data["audience"]
        if audience not in ("resident", "enterprise"):
            self.problem(nodes["audience"], f"audience {audience!r} is not resident or enterprise")
            return None
        when = self.condition(nodes["when"], audience)
        if self.problems or when is None:
            return None
        return TagDefinition(
            data["id"], audience, str(data["name_zh"]), str(data["zh"]), str(data["en"]),
            str(data["owner"]), when,
        )  # fmt: skip

    def condition(self, node: yaml.Node, audience: str) -> Condition | None:
        if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
            self.problem(node, f"a condition is a mapping with one key: {', '.join(_KINDS)}")
            return None
        key_node, body = node.value[0]
        kind = str(key_node.value)
        if kind not in _KINDS:
            near = difflib.get_close_matches(kind, _KINDS, n=1)
            self.problem(
                key_node,
                f"unknown condition {kind!r}" + (f"; did you mean {near[0]!r}?" if near else ""),
            )
            return None
        if kind in ("all", "any", "none"):
            if not isinstance(body, yaml.SequenceNode) or not body.value:
                self.problem(body, f"{kind} takes a non-empty list of conditions")
                return None
            parts = [self.condition(n, audience) for n in body.value]
            if any(p is None for p in parts):
                return None
            return Condition(kind, parts=tuple(p for p in parts if p is not None))
        value = yaml.safe_load(yaml.serialize(body))
        if not isinstance(value, Mapping):
            self.problem(body, f"{kind} takes a mapping")
            return None
        fields = {str(k.value): v for k, v in body.value}
        if kind == "field":
            return self.field_condition(value, fields, body, audience)
        return self.event_condition(kind, value, fields, body)

    def event_condition(
        self, kind: str, value: Mapping[str, Any], nodes: Mapping[str, yaml.Node], body: yaml.Node
    ) -> Condition | None:
        allowed = {"items", "within", "at_least", "at_most"}
        for key in value:
            if key not in allowed:
                self.problem(
                    nodes[key],
                    f"unknown key {key!r} in {kind}; allowed: {', '.join(sorted(allowed))}",
                )
        items = value.get("items")
        if not isinstance(items, list) or not items:
            self.problem(body, f"{kind} needs items: [item codes …]")
            return None
        known = self.schema.event.field("item_code").values
        for i, item in enumerate(items):
            if item not in known:
                near = difflib.get_close_matches(str(item), known, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                item_node = nodes["items"]
                at = item_node.value[i] if isinstance(item_node, yaml.SequenceNode) else item_node
                self.problem(at, f"unknown item code {item!r}{hint}")
        window = None
        if "within" in value:
            window = Window.parse(str(value["within"]))
            if window is None:
                self.problem(
                    nodes["within"],
                    f"within {value['within']!r} is not a duration like P12M, P1Y or P30D",
                )
        elif kind != "events":
            self.problem(body, f"{kind} needs within: a duration like P12M")
        at_least = value.get("at_least", 1)
        at_most = value.get("at_most")
        for key, v in (("at_least", at_least), ("at_most", at_most)):
            if v is not None and (not isinstance(v, int) or v < 0):
                self.problem(nodes.get(key, body), f"{key} must be a whole number")
        return Condition(kind, tuple(str(i) for i in items), window, int(at_least or 0), at_most)

    def field_condition(
        self,
        value: Mapping[str, Any],
        nodes: Mapping[str, yaml.Node],
        body: yaml.Node,
        audience: str,
    ) -> Condition | None:
        entity = self.schema.entity(audience)
        name, op = value.get("name"), value.get("op")
        if name not in entity.by_name:
            near = difflib.get_close_matches(str(name), entity.field_names, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            self.problem(nodes.get("name", body), f"unknown field {name!r} for {audience}s{hint}")
            return None
        if op not in _OPS:
            self.problem(nodes.get("op", body), f"op must be one of {' '.join(_OPS)}")
            return None
        if "value" not in value:
            self.problem(body, "field needs value:")
            return None
        return Condition("field", field=str(name), op=str(op), value=value["value"])


def load_tags(
    paths: Iterable[Path] | None = None, schema: Schema | None = None
) -> list[TagDefinition]:
    """Every tag under ``paths`` (default: the built-in library), checked; all problems at once."""
    schema = schema or load_schema()
    files: list[Path] = []
    for path in paths or [BUILT_IN_TAGS]:
        if path.is_dir():
            files.extend(sorted(path.glob("*.yaml")))
        elif path.is_file():
            files.append(path)
        else:
            raise InputFileError(f"{path} does not exist; give a tag YAML file or a directory")
    tags: list[TagDefinition] = []
    problems: list[TagError] = []
    seen: dict[str, Path] = {}
    for path in files:
        reader = _Reader(path, path.read_text(encoding="utf-8"), schema)
        tag = reader.read()
        problems.extend(reader.problems)
        if tag is None:
            continue
        if tag.id in seen:
            problems.append(
                TagError(
                    f"duplicate tag id {tag.id!r} (also in {seen[tag.id]})",
                    path=str(path),
                    line=1,
                    col=1,
                )
            )
            continue
        seen[tag.id] = path
        tags.append(tag)
    if problems:
        raise TagLibraryError(problems)
    return tags
