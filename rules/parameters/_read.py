"""Reading parameter files: one YAML document per parameter, every problem with file:line.

A file (``rules/parameters/library/dibao_standard.yaml``)::

    name: dibao_standard          # ASCII: what rules write after ``parameters.``
    name_zh: 低保标准              # what rules write after ``参数.``
    unit: CNY/month               # one of UNITS
    kind: amount                  # amount (default) | scale | categories
    by: age                       # a scale's or categories' usual index (a field), optional
    description: 城乡居民最低生活保障标准，每人每月
    values:
      - from: 2024-07-01          # in force from (inclusive) ...
        until: null               # ... until (inclusive); null or absent: open-ended
        amount: 1450              # a scale has ``brackets: {80: 100, 90: 500}``,
                                  # categories ``categories: {dibao: 300}``
        source:                   # or ``source: modelled`` with ``reason: ...``
          document: 京民社救发〔2024〕80号
          issuer: 北京市民政局
          date: 2024-06-28        # optional: when it was issued
          url: https://...        # optional

Read with :func:`core.safe_yaml.load_document` (no anchors or aliases).  Refused, each with the
file and line: a missing or unknown key, a name that is not ASCII, an unknown unit or kind,
values whose dates overlap, ``until`` before ``from``, a value without a source, a modelled
value without a reason, a value of the wrong shape, two files with one name.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from core.errors import InputFileError, ValidationError
from core.safe_yaml import RefusedYamlError, load_document
from rules.parameters._library import Library
from rules.parameters._model import KINDS, UNITS, Bracket, Citation, Kind, Parameter, Version

__all__ = ["ParameterFileError", "parameter_files", "read_library"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYS = ("name", "name_zh", "unit", "kind", "by", "description", "description_en", "values")
_REQUIRED = ("name", "name_zh", "unit", "description", "values")
_VALUE_KEYS = ("from", "until", "amount", "brackets", "categories", "source", "reason", "note")
_SOURCE_KEYS = ("document", "issuer", "date", "url", "title")
_EXAMPLES = {
    "amount": "amount: 1450",
    "brackets": "brackets: {80: 100, 90: 500}",
    "categories": "categories: {dibao: 300, low_income: 200}",
}
_SHAPE = {"amount": "amount", "scale": "brackets", "categories": "categories"}


class ParameterFileError(ValidationError):
    """Parameter files that do not validate; ``problems`` lists each as ``file:line: text``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def parameter_files(paths: Iterable[Path]) -> list[Path]:
    """The ``*.yaml`` files under ``paths`` (directories searched recursively)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.yaml")))
        elif path.is_file():
            files.append(path)
        else:
            raise InputFileError(
                f"{path}: no such file or directory; give parameter files or a directory of them"
            )
    return files


def read_library(paths: Iterable[Path]) -> Library:
    """Every parameter of the files under ``paths``; any problem raises one error with all."""
    problems: list[str] = []
    parameters: list[Parameter] = []
    seen: dict[str, str] = {}
    for path in parameter_files(paths):
        reader = _File(path)
        parameter = reader.read()
        problems.extend(reader.problems)
        if parameter is None:
            continue
        for name in (parameter.name, parameter.name_zh):
            if name in seen:
                problems.append(f"{path}:1: the name {name!r} is already used by {seen[name]}")
            seen[name] = str(path)
        parameters.append(parameter)
    if problems:
        raise ParameterFileError(problems)
    return Library(tuple(parameters))


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


class _File:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def problem(self, node: yaml.Node | None, message: str) -> None:
        self.problems.append(f"{self.path}:{_line(node)}: {message}")

    def read(self) -> Parameter | None:
        try:
            text = self.path.read_text(encoding="utf-8")
            root, data = load_document(text)
        except UnicodeDecodeError:
            self.problems.append(f"{self.path}:1: not UTF-8 text; save the file as UTF-8")
            return None
        except (RefusedYamlError, yaml.MarkedYAMLError) as exc:
            mark = exc.problem_mark
            line = mark.line + 1 if mark is not None else 1
            self.problems.append(f"{self.path}:{line}: {exc.problem or exc}")
            return None
        except yaml.YAMLError as exc:
            self.problems.append(f"{self.path}:1: not YAML ({exc})")
            return None
        if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
            self.problems.append(f"{self.path}:1: expected a mapping (name:, unit:, values:, ...)")
            return None
        nodes = {str(k.value): (k, v) for k, v in root.value if isinstance(k, yaml.ScalarNode)}
        for key, (knode, _) in nodes.items():
            if key not in _KEYS:
                self.problem(knode, f"unknown key {key!r}; the keys are {', '.join(_KEYS)}")
        for key in _REQUIRED:
            if data.get(key) in (None, ""):
                self.problem(root, f"missing {key!r}; every parameter has {', '.join(_REQUIRED)}")
        name = data.get("name")
        if name is not None and not (isinstance(name, str) and _NAME.match(name)):
            self.problem(
                nodes["name"][1],
                f"name {name!r} must be ASCII lowercase letters, digits and _ "
                "(e.g. dibao_standard); the Chinese name goes in name_zh",
            )
        unit = data.get("unit")
        if unit is not None and unit not in UNITS:
            self.problem(
                nodes["unit"][1], f"unknown unit {unit!r}; the units are {', '.join(UNITS)}"
            )
        kind = data.get("kind", "amount")
        if kind not in KINDS:
            self.problem(
                nodes["kind"][1], f"unknown kind {kind!r}; the kinds are {', '.join(KINDS)}"
            )
            return None
        versions = self._versions(kind, data.get("values"), nodes.get("values", (None, None))[1])
        if self.problems or versions is None:
            return None
        return Parameter(
            name=str(name), name_zh=str(data["name_zh"]), unit=str(unit),
            description=str(data["description"]), versions=versions, kind=kind,
            description_en=str(data.get("description_en") or ""), path=str(self.path),
            by=str(data["by"]) if data.get("by") else None,
        )  # fmt: skip

    def _versions(
        self, kind: Kind, values: Any, node: yaml.Node | None
    ) -> tuple[Version, ...] | None:
        if values is None:
            return None
        if not isinstance(values, list) or not isinstance(node, yaml.SequenceNode) or not values:
            self.problem(node, "values must be a list of dated values (- from: ..., amount: ...)")
            return None
        versions = []
        for item, item_node in zip(values, node.value, strict=True):
            version = self._version(kind, item, item_node)
            if version is not None:
                versions.append(version)
        versions.sort(key=lambda v: v.start)
        for before, after in itertools.pairwise(versions):
            if before.end is None or before.end >= after.start:
                self.problems.append(
                    f"{self.path}:{after.line}: the value from {after.start} overlaps the one "
                    f"from {before.start} (line {before.line}, "
                    f"until {before.end or 'open-ended'}); give the earlier one "
                    f"until: {_day_before(after.start)}"
                )
        return tuple(versions)

    def _version(self, kind: Kind, item: Any, node: yaml.Node) -> Version | None:
        line = _line(node)
        if not isinstance(item, dict) or not isinstance(node, yaml.MappingNode):
            self.problem(node, "each value is a mapping: from:, amount: (or brackets:), source:")
            return None
        nodes = {str(k.value): (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        count = len(self.problems)
        for key, (knode, _) in nodes.items():
            if key not in _VALUE_KEYS:
                self.problem(
                    knode, f"unknown key {key!r} in a value; the keys are {', '.join(_VALUE_KEYS)}"
                )
        start, end = item.get("from"), item.get("until")
        if not isinstance(start, date):
            self.problem(node, "a value needs from: YYYY-MM-DD (the first day it is in force)")
        if end is not None and not isinstance(end, date):
            self.problem(nodes["until"][1], "until must be a date (YYYY-MM-DD) or null")
        if isinstance(start, date) and isinstance(end, date) and end < start:
            self.problem(nodes["until"][1], f"until {end} is before from {start}")
        amount, brackets = self._shape(kind, item, node, nodes)
        source = self._source(item, node, nodes)
        if len(self.problems) > count or not isinstance(start, date) or source is None:
            return None
        return Version(start, end, amount, brackets, source, line)

    def _shape(
        self, kind: Kind, item: dict[str, Any], node: yaml.Node, nodes: dict[str, Any]
    ) -> tuple[Decimal | None, tuple[Bracket, ...]]:
        wanted = _SHAPE[kind]
        for other in set(_SHAPE.values()) - {wanted}:
            if other in item:
                self.problem(nodes[other][0], f"a {kind} parameter has {wanted}:, not {other}:")
        if item.get(wanted) is None:
            example = _EXAMPLES[wanted]
            self.problem(node, f"a value of a {kind} parameter needs {wanted}: (e.g. {example})")
            return None, ()
        value_node = nodes[wanted][1]
        if kind == "amount":
            return self._number(item[wanted], value_node), ()
        table = item[wanted]
        if not isinstance(table, dict) or not table:
            self.problem(
                value_node,
                f"{wanted} must be a mapping of "
                f"{'thresholds' if kind == 'scale' else 'keys'} to amounts",
            )
            return None, ()
        brackets = []
        for key, amount in table.items():
            number = self._number(amount, value_node)
            if number is None:
                continue
            if kind == "scale":
                threshold = self._number(key, value_node)
                if threshold is not None:
                    brackets.append(Bracket(number, threshold=threshold))
            else:
                brackets.append(Bracket(number, key=str(key)))
        if kind == "scale":
            brackets.sort(key=lambda b: b.threshold or Decimal(0))
        return None, tuple(brackets)

    def _number(self, value: Any, node: yaml.Node) -> Decimal | None:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.problem(node, f"{value!r} is not a number")
            return None
        try:
            return Decimal(str(value).replace(",", ""))
        except InvalidOperation:
            self.problem(node, f"{value!r} is not a number")
            return None

    def _source(
        self, item: dict[str, Any], node: yaml.Node, nodes: dict[str, Any]
    ) -> Citation | None:
        source = item.get("source")
        if source is None:
            self.problem(
                node,
                "a value needs its source: document, issuer (and date, url), or "
                "source: modelled with reason: why it is not cited",
            )
            return None
        source_node = nodes["source"][1]
        if source == "modelled":
            reason = item.get("reason")
            if not isinstance(reason, str) or len(reason.strip()) < 10:
                self.problem(
                    source_node,
                    "a modelled value needs reason: (at least 10 characters) saying why it "
                    "is not cited",
                )
                return None
            return Citation(modelled=reason.strip())
        if not isinstance(source, dict):
            self.problem(
                source_node,
                "source must be a mapping (document:, issuer:, date:, url:) or modelled",
            )
            return None
        for key in source:
            if key not in _SOURCE_KEYS:
                self.problem(
                    source_node,
                    f"unknown key {key!r} in a source; the keys are {', '.join(_SOURCE_KEYS)}",
                )
        missing = [k for k in ("document", "issuer") if not source.get(k)]
        if missing:
            self.problem(
                source_node,
                f"a source needs {' and '.join(missing)} (the document number and the body "
                "that issued it)",
            )
            return None
        issued = source.get("date")
        if issued is not None and not isinstance(issued, date):
            self.problem(source_node, "a source's date must be YYYY-MM-DD")
            return None
        return Citation(
            document=str(source["document"]), issuer=str(source["issuer"]), issued=issued,
            url=str(source["url"]) if source.get("url") else None,
            title=str(source["title"]) if source.get("title") else None,
        )  # fmt: skip


def _day_before(day: date) -> date:
    from datetime import timedelta

    return day - timedelta(days=1)
