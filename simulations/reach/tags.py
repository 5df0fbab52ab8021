"""Only the tags a simulation's rules can read, from the events those tags look at."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import polars as pl

from matcher.population import EventTagger
from profiles.schema import Schema
from rules.policy import Policy

__all__ = ["event_tagger", "tags_read"]


def event_tagger(
    population: Path, schema: Schema, policies: Sequence[Policy], *, as_of: date
) -> EventTagger | None:
    """A tagger computing only the tags the rules can read (none: no tagger at all).

    It reads only the events of the items those tags look at: a tag's conditions count, or
    look for the absence or the first, of its own items' events, so the others cannot change
    it.
    """
    from profiles.tagging import Condition, load_tags

    wanted = tags_read(policies, schema)
    events = population / "events.parquet"
    if (wanted is not None and not wanted) or not events.is_file():
        return None
    library = load_tags(schema=schema)
    if wanted is None:
        return EventTagger(population, schema, as_of=as_of, tags=library)
    library = [t for t in library if t.id in wanted]

    def items(condition: Condition) -> set[str]:
        return set(condition.items).union(*(items(c) for c in condition.parts))

    tagger = EventTagger(population, schema, as_of=as_of, tags=library)
    read = sorted(set().union(*(items(t.when) for t in library)))
    tagger.events = pl.scan_parquet(events).filter(pl.col("item_code").cast(pl.String).is_in(read))
    return tagger


def tags_read(policies: Sequence[Policy], schema: Schema) -> set[str] | None:
    """The tag ids the rules of ``policies`` can read; ``None`` when that cannot be told.

    A rule reads tags only as ``"id" in tags``; any other use of the field (a string field
    as the member) could read any tag.

    >>> from rules.policy import Policy
    >>> from profiles.schema import load_schema
    >>> p = Policy(id="p", title="t", department="d", audience="resident", mode="auto_grant",
    ...            eligibility='"new_parent" in 标签 and age < 40', valid_from=date(2026, 1, 1))
    >>> tags_read([p], load_schema())
    {'new_parent'}
    """
    import rule_engine.ast as rast

    from rules.language import Rule, RuleKind, children, parse_rule

    wanted: set[str] = set()
    for policy in policies:
        entity = schema.entity(policy.audience)
        names = {n for f in entity.fields if f.type == "tags" for n in (f.name, f.name_zh) if n}
        texts: list[tuple[str, RuleKind]] = [(policy.eligibility, "eligibility")]
        if policy.benefit:
            texts.append((policy.benefit, "benefit"))
        for text, kind in texts:
            if not any(name in text for name in names):
                continue  # the field is not named: the rule cannot read tags
            rule = parse_rule(text, entity, kind=kind)

            def is_tags(node: object, rule: Rule = rule) -> bool:
                kind = rule.types.get(id(node))
                return (
                    isinstance(node, rast.SymbolExpression)
                    and kind is not None
                    and (kind.kind == "tags")
                )

            stack = [rule.expression]
            while stack:
                node = stack.pop()
                if isinstance(node, rast.ContainsExpression) and is_tags(node.container):
                    if not isinstance(node.member, rast.StringExpression):
                        return None
                    wanted.add(node.member.value)
                elif is_tags(node):
                    return None
                else:
                    stack.extend(children(node))
    return wanted
