"""Event-driven matching (服务找人 in real time): one event → tags → affected policies → diff.

The catalog is indexed by what each policy reads: its fields, and for ``tags`` the tag names it
tests (``"new_parent" in tags`` reads only ``new_parent``).  A new event recomputes the
subject's tags; a profile change names its changed fields; only the policies reading a changed
field or tag are evaluated again, per record in Python (``rules.evaluator``), and compared with
the subject's stored matches.  The changes are named as in a run diff.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import rule_engine.ast as rast

from profiles.derive import derive_record
from profiles.schema import Entity, Schema
from profiles.tagging.definitions import TagDefinition
from profiles.tagging.single import subject_tags
from rules.evaluator import evaluate, evaluate_benefit
from rules.language import Rule, children, parse_rule
from rules.policy import Policy

__all__ = ["Change", "EventMatcher", "RuleIndex"]

Status = tuple[str, Decimal | None]  # ("eligible" | "maybe", benefit)


@dataclass(frozen=True)
class Change:
    subject_id: str
    policy_id: str
    change: str  # as in matcher.runs.CHANGES
    old: Status | None
    new: Status | None


def _tags_tested(node: Any) -> set[str] | None:
    """The tag names a rule tests with ``"x" in tags``; None if it uses tags another way."""
    found: set[str] = set()
    container = getattr(node, "container", None)
    if isinstance(node, rast.ContainsExpression) and isinstance(container, rast.SymbolExpression):
        if container.name == "tags" and isinstance(node.member, rast.StringExpression):
            return {node.member.value}
        if container.name == "tags":
            return None
    if isinstance(node, rast.SymbolExpression) and node.name == "tags":
        return None
    for child in children(node):
        sub = _tags_tested(child)
        if sub is None:
            return None
        found |= sub
    return found


@dataclass(frozen=True)
class _Compiled:
    policy: Policy
    eligibility: Rule
    benefit: Rule | None


@dataclass
class RuleIndex:
    """Policies of one audience, indexed by the fields and tags they read."""

    compiled: dict[str, _Compiled]
    by_field: dict[str, set[str]] = field(default_factory=dict)
    by_tag: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, policies: Iterable[Policy], entity: Entity) -> RuleIndex:
        compiled: dict[str, _Compiled] = {}
        by_field: dict[str, set[str]] = defaultdict(set)
        by_tag: dict[str, set[str]] = defaultdict(set)
        for p in policies:
            if p.audience != entity.name:
                continue
            rule = parse_rule(p.eligibility, entity)
            benefit = parse_rule(p.benefit, entity, kind="benefit") if p.benefit else None
            compiled[p.id] = _Compiled(p, rule, benefit)
            for r in (rule, benefit):
                if r is None:
                    continue
                for name in r.fields - {"tags"}:
                    by_field[name].add(p.id)
                if "tags" in r.fields:
                    tested = _tags_tested(r.expression)
                    for tag in tested if tested is not None else {"*"}:
                        by_tag[tag].add(p.id)
        return cls(compiled, dict(by_field), dict(by_tag))

    @classmethod
    def cached(cls, policies: Sequence[Policy], entity: Entity) -> RuleIndex:
        """:meth:`build`, kept per (entity, policies' rules): parsing a catalog's rules costs
        tens of milliseconds, more than the re-match of one event, and ingestion builds a
        matcher per request.  The key is what the index is made of (each policy's id,
        audience, eligibility and benefit), so an edited policy gets a new index."""
        key = (
            entity.name,
            tuple(entity.by_name),
            tuple((p.id, p.audience, p.eligibility, p.benefit) for p in policies),
        )
        with _INDEX_LOCK:
            found = _INDEXES.get(key)
        if found is None:
            found = cls.build(policies, entity)
            with _INDEX_LOCK:
                if len(_INDEXES) >= _INDEXES_KEPT:
                    _INDEXES.pop(next(iter(_INDEXES)))  # the oldest
                _INDEXES[key] = found
        return found

    def affected(self, fields: Iterable[str], tags: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for name in fields:
            out |= self.by_field.get(name, set())
            if name in ("birth_date", "founded_date"):  # age and age_years derive from them
                out |= self.by_field.get("age", set()) | self.by_field.get("age_years", set())
        for tag in tags:
            out |= self.by_tag.get(tag, set())
        if tags:
            out |= self.by_tag.get("*", set())
        return out


_INDEXES: dict[tuple[object, ...], RuleIndex] = {}
_INDEXES_KEPT = 8  # catalogs x audiences in use at once: published, and a few versions back
_INDEX_LOCK = threading.Lock()


def _kind(old: Status | None, new: Status | None) -> str | None:
    if old is None and new is None:
        return None
    if old is None:
        return f"newly_{new[0]}" if new else None
    if new is None:
        return "no_longer_eligible"
    if old[0] != new[0]:
        return f"{old[0]}_to_{new[0]}"
    return "benefit_changed" if old[1] != new[1] else None


class EventMatcher:
    """Keeps each subject's tags and matches current as events and profile changes arrive."""

    def __init__(
        self,
        policies: Sequence[Policy],
        tags: Sequence[TagDefinition],
        schema: Schema,
        *,
        entity: str,
        as_of: date,
    ) -> None:
        self.entity = schema.entity(entity)
        self.index = RuleIndex.cached([p for p in policies if p.in_force(as_of)], self.entity)
        self.tags = [t for t in tags if t.audience == entity]
        self.as_of = as_of
        self.records: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        self.matches: dict[str, dict[str, Status]] = defaultdict(dict)

    def load(
        self,
        subject_id: str,
        record: Mapping[str, Any],
        events: Sequence[Mapping[str, Any]],
        matches: Mapping[str, Status],
    ) -> None:
        """Start from a known state (e.g. the last batch run's matches)."""
        self.records[subject_id] = dict(record)
        self.events[subject_id] = list(events)
        self.matches[subject_id] = dict(matches)
        self.records[subject_id]["tags"] = sorted(self._tags(subject_id))

    def _tags(self, subject_id: str) -> set[str]:
        return subject_tags(
            self.records[subject_id], self.events[subject_id], self.tags,
            entity=self.entity, as_of=self.as_of,
        )  # fmt: skip

    def _rematch(self, subject_id: str, policy_ids: Iterable[str]) -> list[Change]:
        record = derive_record(self.records[subject_id], self.entity, as_of=self.as_of)
        current = self.matches[subject_id]
        changes = []
        for pid in sorted(policy_ids):
            compiled = self.index.compiled[pid]
            result = evaluate(compiled.eligibility, record, as_of=self.as_of)
            new: Status | None = None
            if result is not False:
                amount = (
                    evaluate_benefit(compiled.benefit, record, as_of=self.as_of)
                    if compiled.benefit
                    else None
                )
                new = ("eligible" if result else "maybe", amount)
            old = current.get(pid)
            kind = _kind(old, new)
            if kind is not None:
                changes.append(Change(subject_id, pid, kind, old, new))
            if new is None:
                current.pop(pid, None)
            else:
                current[pid] = new
        return changes

    def on_event(self, event: Mapping[str, Any]) -> list[Change]:
        """A new service event: recompute tags, re-match the policies reading changed tags."""
        subject_id = str(event["subject_id"])
        self.records.setdefault(subject_id, {self.entity.key or "id": subject_id, "tags": []})
        before = set(self.records[subject_id].get("tags") or ())
        self.events[subject_id].append(event)
        after = self._tags(subject_id)
        self.records[subject_id]["tags"] = sorted(after)
        return self._rematch(subject_id, self.index.affected((), before ^ after))

    def on_profile_change(self, subject_id: str, changes: Mapping[str, Any]) -> list[Change]:
        """Changed profile fields: re-match the policies reading them (tags may change too)."""
        record = self.records.setdefault(subject_id, {self.entity.key or "id": subject_id})
        changed = {k for k, v in changes.items() if record.get(k) != v}
        record.update(changes)
        before = set(record.get("tags") or ())
        after = self._tags(subject_id)
        record["tags"] = sorted(after)
        return self._rematch(subject_id, self.index.affected(changed, before ^ after))
