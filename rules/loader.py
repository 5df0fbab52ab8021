"""Load policy YAML — one file per policy, a directory is a catalog — and check all of it.

Every problem in every file is collected (not just the first) as a positioned error,
``file:line:col: message``: unknown keys (with the nearest key suggested), missing keys, bad
ids, modes, audiences and dates, ``valid_until`` before ``valid_from``, duplicate ids, and every
error of the ``eligibility`` and ``benefit`` expressions, placed where the officer wrote them,
and what the checks of ``rules.checks`` find in them: errors (a never-true eligibility, a tier
nobody reaches) refuse the policy as the others do; warnings (an always-true rule, tiers that
overlap) are kept beside the policy (:attr:`Catalog.warnings`, :class:`PolicyCheck`).

Documents are read by :func:`core.safe_yaml.load_document`: a document over its size limit is
refused before it is parsed, and YAML anchors and aliases (a 703-byte "billion laughs"
document expanded into a 6.9 MB ``basis``) are refused at their line and column.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from core.errors import InputFileError, RuleError
from core.safe_yaml import MAX_DOCUMENT_BYTES, RefusedYamlError, describe_size, load_document
from profiles.schema import Schema, load_schema
from rules.checks import check_benefit, check_eligibility
from rules.errors import PolicyError, PositionedRuleError, RuleCheckWarning
from rules.language import Rule, parse_rule
from rules.messages import render
from rules.parameter_use import coverage_errors, literal_warnings
from rules.policy import (
    AUDIENCES,
    BENEFIT_PERIODS,
    CATEGORIES,
    MODES,
    POLICY_KEYS,
    PROVENANCES,
    RECIPIENTS,
    REQUIRED_KEYS,
    UNITS,
    Policy,
    unit_problem,
)
from rules.relations import read_relations
from rules.suggest import nearest

__all__ = [
    "Catalog",
    "CatalogError",
    "PolicyCheck",
    "check_policy_text",
    "load_catalog",
    "load_policy_text",
    "policy_files",
]

# Keys holding a list of texts.
_LIST_KEYS = ("materials", "application_conditions")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# Every key Policy holds as text: a list here (a 6.9 MB nested basis once) is refused.
_TEXT_KEYS = (
    "title", "title_en", "department", "basis", "eligibility", "benefit", "category",
    "summary", "summary_en", "where", "apply_url", "contact", "provenance_note",
)  # fmt: skip


class CatalogError(RuleError):
    """One or more problems in a catalog; ``problems`` holds each positioned error."""

    def __init__(
        self,
        problems: Sequence[PositionedRuleError],
        warnings: Sequence[PositionedRuleError] = (),
    ) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.path or "", p.line, p.col)))
        self.warnings = tuple(sorted(warnings, key=lambda p: (p.path or "", p.line, p.col)))
        count = len(self.problems)
        head = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{head}\n{count} problem{'s' if count != 1 else ''} found")


@dataclass(frozen=True)
class Catalog:
    policies: tuple[Policy, ...]
    sources: dict[str, Path]  # policy id -> file
    texts: dict[str, str]  # policy id -> the YAML text as written
    warnings: tuple[PositionedRuleError, ...] = ()  # what the checks warn of, by file

    @property
    def by_id(self) -> dict[str, Policy]:
        return {p.id: p for p in self.policies}

    @property
    def content_hash(self) -> str:
        """SHA-256 over the policies' content hashes, in id order."""
        digest = hashlib.sha256()
        for policy in sorted(self.policies, key=lambda p: p.id):
            digest.update(f"{policy.id}:{policy.content_hash}\n".encode())
        return digest.hexdigest()

    def in_force(self, on: date) -> tuple[Policy, ...]:
        return tuple(p for p in self.policies if p.in_force(on))


def policy_files(paths: Iterable[Path]) -> list[Path]:
    """The YAML files named by ``paths`` (directories are searched recursively)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml")))
        elif path.is_file():
            files.append(path)
        else:
            raise InputFileError(
                f"{path} does not exist; give a policy YAML file or a directory of them"
            )
    return files


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _expression_start(node: yaml.ScalarNode, text: str) -> tuple[int, int, int]:
    """(line, col) of the expression's first character in the file, and the block indent."""
    line, col = _mark(node)
    if node.style in ('"', "'"):
        return line, col + 1, 0
    if node.style in ("|", ">"):
        lines = text.splitlines()
        for number in range(line, len(lines)):
            content = lines[number]
            if content.strip():
                indent = len(content) - len(content.lstrip())
                return number + 1, indent + 1, indent
    return line, col, 0


class _FileChecker:
    def __init__(self, path: Path, text: str, schema: Schema) -> None:
        self.path = path
        self.text = text
        self.schema = schema
        self.problems: list[PositionedRuleError] = []
        self.warnings: list[PositionedRuleError] = []

    def problem(self, node: yaml.Node | None, message: str, policy_id: str | None = None) -> None:
        line, col = _mark(node) if node is not None else (1, 1)
        self.problems.append(
            PolicyError(message, line=line, col=col, path=str(self.path), policy_id=policy_id)
        )

    def check(self) -> Policy | None:
        try:
            root, data = load_document(self.text)
        except RefusedYamlError as exc:
            self.problems.append(
                PolicyError(str(exc.problem), line=exc.line, col=exc.col, path=str(self.path))
            )
            return None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            self.problems.append(
                PolicyError(
                    f"not valid YAML: {exc.problem}", line=line, col=col, path=str(self.path)
                )
            )
            return None
        except yaml.YAMLError as exc:  # e.g. a control character: the reader refuses it
            position = getattr(exc, "position", 0) or 0
            before = self.text[:position]
            line, col = before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1
            self.problems.append(
                PolicyError(f"not valid YAML: {exc}".split("\n")[0], line=line, col=col,
                            path=str(self.path))
            )  # fmt: skip
            return None
        if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
            self.problem(root, "a policy file holds one mapping of keys (id:, title:, ...)")
            return None
        nodes: dict[str, tuple[yaml.Node, yaml.Node]] = {
            str(k.value): (k, v) for k, v in root.value if isinstance(k, yaml.ScalarNode)
        }
        pid = data.get("id") if isinstance(data.get("id"), str) else None
        for key, (knode, _) in nodes.items():
            if key not in POLICY_KEYS:
                near = difflib.get_close_matches(key, POLICY_KEYS, n=1, cutoff=0.6)
                hint = (
                    f"did you mean {near[0]!r}?" if near else f"allowed: {', '.join(POLICY_KEYS)}"
                )
                self.problem(knode, f"unknown key {key!r}; {hint}", pid)
        for key in REQUIRED_KEYS:
            if data.get(key) in (None, ""):
                self.problem(root, f"missing required key {key!r}", pid)
        values = {k: data.get(k) for k in POLICY_KEYS}
        self._check_values(values, nodes, pid)
        relations, problem = read_relations(values.pop("relations"))
        if problem is not None:
            self.problem(self._node(nodes, "relations"), problem, pid)
        if self.problems:
            return None
        lists: dict[str, Any] = {k: tuple(str(m) for m in values[k] or ()) for k in _LIST_KEYS}
        return Policy(
            **{k: v for k, v in values.items() if k not in _LIST_KEYS and v is not None},
            **lists,
            relations=relations,
        )

    def _node(self, nodes: dict[str, tuple[yaml.Node, yaml.Node]], key: str) -> yaml.Node | None:
        return nodes[key][1] if key in nodes else None

    def _check_values(
        self, v: dict[str, Any], nodes: dict[str, tuple[yaml.Node, yaml.Node]], pid: str | None
    ) -> None:
        def node(key: str) -> yaml.Node | None:
            return self._node(nodes, key)

        if v["id"] is not None and (not isinstance(v["id"], str) or not _ID.match(v["id"])):
            self.problem(
                node("id"),
                f"id {v['id']!r} must be lowercase letters, digits and single dashes, "
                "e.g. bj-elderly-allowance",
                pid,
            )
        for key, allowed in (
            ("audience", AUDIENCES), ("mode", MODES), ("unit", UNITS), ("recipient", RECIPIENTS),
            ("provenance", PROVENANCES),
        ):  # fmt: skip
            if v[key] is not None and v[key] not in allowed:
                near = difflib.get_close_matches(str(v[key]), allowed, n=1, cutoff=0.5)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                self.problem(
                    node(key), f"{key} {v[key]!r} is not one of {', '.join(allowed)}{hint}", pid
                )
        period = v["benefit_period"]
        if period is not None and period not in BENEFIT_PERIODS:
            self.problem(
                node("benefit_period"),
                f"benefit_period {period!r} is not one of {', '.join(BENEFIT_PERIODS)}",
                pid,
            )
        if v["benefit"] not in (None, "") and period is None:
            self.problem(
                node("benefit"),
                "a policy with a benefit needs benefit_period: once|month|year",
                pid,
            )
        for key in ("valid_from", "valid_until"):
            if v[key] is not None and not isinstance(v[key], date):
                self.problem(
                    node(key), f"{key} must be a date like 2026-01-01, found {v[key]!r}", pid
                )
                v[key] = None
        if v["valid_from"] and v["valid_until"] and v["valid_until"] < v["valid_from"]:
            self.problem(
                node("valid_until"),
                f"valid_until {v['valid_until']} is before valid_from {v['valid_from']}",
                pid,
            )
        if v["objection_days"] is not None and not (
            isinstance(v["objection_days"], int) and v["objection_days"] >= 0
        ):
            self.problem(
                node("objection_days"), "objection_days must be a whole number of days", pid
            )
        for key in _LIST_KEYS:
            items = v[key]
            if items is not None and not (
                isinstance(items, list) and not any(isinstance(m, list | dict) for m in items)
            ):
                self.problem(node(key), f"{key} must be a list of strings", pid)
                v[key] = None
        if v["application_conditions"] and v["mode"] == "auto_grant":
            self.problem(
                node("application_conditions"),
                "an auto_grant (免申即享) policy has no application, so nothing can be checked "
                "at application: make each condition part of eligibility, or change mode to "
                "fast_track (直达快享) or proactive_push (服务找人)",
                pid,
            )
        for key in _TEXT_KEYS:
            if v[key] is not None and not isinstance(v[key], str):
                self.problem(node(key), f"{key} must be text", pid)
                v[key] = None
        if v["provenance"] == "modelled" and not (v["provenance_note"] or "").strip():
            self.problem(
                node("provenance"),
                "a modelled policy says what is modelled and why: add provenance_note: '…' "
                "(e.g. 'the 800 CNY amount is not verified against a published notice')",
                pid,
            )
        self._check_unit(v, nodes, pid)
        self._check_category(v["category"], node("category"), pid)
        if v["audience"] in AUDIENCES and v["audience"] not in self.schema.entities:
            self.problem(
                node("audience"),
                f"audience {v['audience']!r} needs the {v['audience']} entity in the profile "
                f"schema, which has only {', '.join(self.schema.entities)}; declare it "
                "(profiles/schema/core.yaml) or choose another audience",
                pid,
            )
        elif v["audience"] in AUDIENCES:
            self._check_expressions(v, nodes, pid)

    def _check_category(self, category: Any, node: yaml.Node | None, pid: str | None) -> None:
        """A warning on a category outside the fixed list, with the nearest one."""
        if not isinstance(category, str) or category in CATEGORIES:
            return
        near = nearest(category, CATEGORIES)
        hint = {
            "zh": f"您是否要写“{near}”？" if near else "",
            "en": f'did you mean "{near}"? ' if near else "",
        }
        params = {"category": category, "hint": hint, "allowed": "、".join(CATEGORIES)}
        line, col = _mark(node) if node is not None else (1, 1)
        self.warnings.append(
            RuleCheckWarning(
                render("unknown_category", params, "en"), line=line, col=col,
                path=str(self.path), policy_id=pid, code="unknown_category", params=params,
            )
        )  # fmt: skip

    def _check_unit(
        self, v: dict[str, Any], nodes: dict[str, tuple[yaml.Node, yaml.Node]], pid: str | None
    ) -> None:
        """``unit`` and ``recipient`` fit the audience (each was checked against its list)."""
        if v["audience"] not in AUDIENCES:
            return
        unit = v["unit"] if v["unit"] in UNITS else None
        recipient = v["recipient"] if v["recipient"] in RECIPIENTS else None
        problem = unit_problem(v["audience"], unit, recipient)
        if problem is not None:
            where = "recipient" if unit_problem(v["audience"], unit, None) is None else "unit"
            self.problem(self._node(nodes, where) or self._node(nodes, "audience"), problem, pid)

    def _check_expressions(
        self, v: dict[str, Any], nodes: dict[str, tuple[yaml.Node, yaml.Node]], pid: str | None
    ) -> None:
        entity = self.schema.entity(v["audience"])
        parsed: dict[str, Rule] = {}
        for key, kind in (("eligibility", "eligibility"), ("benefit", "benefit")):
            source = v[key]
            if not source:
                continue
            try:
                parsed[key] = parse_rule(source, entity, kind=kind)  # type: ignore[arg-type]
            except PositionedRuleError as err:
                self._place(err, key, nodes, pid)
        eligibility = parsed.get("eligibility")
        if eligibility is None:
            return
        for finding in check_eligibility(eligibility, entity):
            self._place(finding, "eligibility", nodes, pid)
        if "benefit" in parsed:
            for finding in check_benefit(parsed["benefit"], eligibility, entity):
                self._place(finding, "benefit", nodes, pid)
        start = v.get("valid_from")
        if isinstance(start, date):  # an amount written out that is a parameter: a warning
            for key, rule in parsed.items():
                for finding in literal_warnings(rule, start, v.get("valid_until")):
                    self._place(finding, key, nodes, pid)
                for error in coverage_errors(rule, start, v.get("valid_until")):
                    self._place(error, key, nodes, pid)  # a day no value covers: refused

    def _place(
        self,
        err: PositionedRuleError,
        key: str,
        nodes: dict[str, tuple[yaml.Node, yaml.Node]],
        pid: str | None,
    ) -> None:
        """``err`` at ``line:col`` of an expression, placed in the file, as error or warning."""
        value = nodes[key][1]
        assert isinstance(value, yaml.ScalarNode)
        line, col, indent = _expression_start(value, self.text)
        if err.line == 1:
            where = (line, col + err.col - 1)
        else:
            where = (line + err.line - 1, indent + err.col)
        placed = err.relocated(
            key=key, line=where[0], col=where[1], path=str(self.path), policy_id=pid
        )
        (self.warnings if placed.severity == "warning" else self.problems).append(placed)


@dataclass(frozen=True)
class PolicyCheck:
    """What validating one policy document found: the policy (None when any error), every
    error and every warning, each at its line and column."""

    policy: Policy | None
    problems: tuple[PositionedRuleError, ...]
    warnings: tuple[PositionedRuleError, ...]


def check_policy_text(text: str, path: Path, schema: Schema | None = None) -> PolicyCheck:
    """Validate one policy's YAML text: its errors and warnings, and the policy if it has no
    error (a draft being written, as the console's live validation shows it)."""
    checker = _FileChecker(path, text, schema or load_schema())
    policy = checker.check()
    return PolicyCheck(policy, tuple(checker.problems), tuple(checker.warnings))


def load_policy_text(text: str, path: Path, schema: Schema | None = None) -> Policy:
    """One policy from its YAML text; raises :class:`CatalogError` listing every problem."""
    checked = check_policy_text(text, path, schema)
    if checked.policy is None:
        raise CatalogError(checked.problems, checked.warnings)
    return checked.policy


def load_catalog(paths: Iterable[Path], schema: Schema | None = None) -> Catalog:
    """Every policy under ``paths``; raises :class:`CatalogError` listing every problem."""
    schema = schema or load_schema()
    problems: list[PositionedRuleError] = []
    warnings: list[PositionedRuleError] = []
    policies: list[Policy] = []
    sources: dict[str, Path] = {}
    texts: dict[str, str] = {}
    files = policy_files(paths)
    if not files:
        raise InputFileError(f"no policy files (*.yaml) under {', '.join(str(p) for p in paths)}")
    for path in files:
        try:
            size = path.stat().st_size
            if size > MAX_DOCUMENT_BYTES:  # refused unread
                problems.append(
                    PolicyError(
                        f"the document is {describe_size(size)}; the limit is "
                        f"{describe_size(MAX_DOCUMENT_BYTES)} (one policy per file: split it, "
                        "or shorten its texts)",
                        path=str(path),
                    )
                )
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(PolicyError(f"cannot read: {exc}", path=str(path)))
            continue
        checker = _FileChecker(path, text, schema)
        policy = checker.check()
        problems.extend(checker.problems)
        warnings.extend(checker.warnings)
        if policy is None:
            continue
        if policy.id in sources:
            root, _ = load_document(text)
            assert isinstance(root, yaml.MappingNode)  # checked above
            id_node = next(v for k, v in root.value if k.value == "id")
            line, col = _mark(id_node)
            problems.append(
                PolicyError(
                    f"duplicate id {policy.id!r}; it is also defined in {sources[policy.id]}",
                    line=line,
                    col=col,
                    path=str(path),
                    policy_id=policy.id,
                )
            )
            continue
        policies.append(policy)
        sources[policy.id] = path
        texts[policy.id] = text
    if problems:
        raise CatalogError(problems, warnings)
    return Catalog(tuple(policies), sources, texts, tuple(warnings))
