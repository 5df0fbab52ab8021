"""How far one resident's service event can reach: nobody, the resident alone, or its links.

An event other than a death changes one thing: the tags of its subject (``profiles.tagging``
on the event log).  Which pairs that can change is decided by the rules in force alone, once
per catalog (:func:`event_reach`):

- no policy reads a tag the event changed: no pair changes at all;
- only person-level policies (unit the person, told to the person) read those tags, and no
  rule reads a tag through a group (``members(...)``, ``employees_count(...)``): only the
  resident's own pairs change, matched on its household, parents and children, without the
  two-hop neighbourhood and the employers' staff;
- otherwise (a household's or a child's policy, a group reading tags, a death) every unit the
  links reach is matched again (:mod:`matcher.live.fanout`).

>>> reach = EventReach(read=frozenset({"new_parent", "newly_married"}),
...                    beyond=frozenset({"newly_married"}))
>>> reach.of(set(), dead=False), reach.of({"retired"}, dead=False)
('none', 'none')
>>> reach.of({"new_parent"}, dead=False), reach.of({"newly_married"}, dead=False)
('self', 'links')
>>> reach.of(set(), dead=True)
'links'
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from matcher.events import RuleIndex
from matcher.units import units_of

if TYPE_CHECKING:
    from profiles.schema import Schema
    from rules.policy import Policy

__all__ = ["EventReach", "Reach", "event_reach"]

Reach = Literal["none", "self", "links"]
_ANY = "*"  # RuleIndex's key for a rule that reads tags other than by ``"x" in tags``


@dataclass(frozen=True)
class EventReach:
    """The tags the rules in force read (None: any tag may matter), and those whose change
    reaches beyond the person (None: any)."""

    read: frozenset[str] | None
    beyond: frozenset[str] | None

    def of(self, changed: set[str], *, dead: bool) -> Reach:
        """How far an event that changed ``changed`` (its subject's tags) reaches."""
        if dead:
            return "links"
        if not changed or (self.read is not None and not changed & self.read):
            return "none"
        if self.beyond is None or changed & self.beyond:
            return "links"
        return "self"


def _build(policies: Sequence[Policy], schema: Schema) -> EventReach:
    units = units_of(policies)
    read: set[str] | None = set()
    beyond: set[str] | None = set()
    for entity in (schema.resident, schema.enterprise):
        index = RuleIndex.cached(policies, entity)
        for tag, ids in index.by_tag.items():
            if tag == _ANY:
                read = None
            elif read is not None:
                read.add(tag)
            if any(units.get(pid, ("person", "self")) != ("person", "self") for pid in ids):
                beyond = None if tag == _ANY else beyond
                if beyond is not None:
                    beyond.add(tag)
        for compiled in index.compiled.values():
            rules = (compiled.eligibility, compiled.benefit)
            if any(r is not None and any(g.endswith(".tags") for g in r.groups) for r in rules):
                read = beyond = None  # a tag read through a group: every tag may reach others
    return EventReach(
        None if read is None else frozenset(read), None if beyond is None else frozenset(beyond)
    )


_KEPT: dict[tuple[object, ...], EventReach] = {}
_LOCK = threading.Lock()


def event_reach(policies: Sequence[Policy], schema: Schema) -> EventReach:
    """:class:`EventReach` of ``policies`` (the rules in force), computed once per catalog."""
    key = tuple(
        (p.id, p.audience, p.eligibility, p.benefit, p.unit_kind, p.recipient_kind)
        for p in policies
    )
    with _LOCK:
        found = _KEPT.get(key)
    if found is None:
        found = _build(policies, schema)
        with _LOCK:
            if len(_KEPT) >= 8:
                _KEPT.pop(next(iter(_KEPT)))
            _KEPT[key] = found
    return found
