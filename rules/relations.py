"""A policy's declared relation to published policies (issue 17): replaces, supplements, excludes.

A draft whose eligible set equals or lies inside a published policy's is a duplicate unless it
says how the two stand.  The declaration is part of the policy's YAML (``relations:``), so it is
versioned, reviewed and exported with the rule:

```yaml
relations:
  - replaces: bj-elderly-allowance      # the replaced policy is retired when this is published
  - supplements: bj-elderly-card        # both apply (a top-up, a second benefit)
  - excludes: bj-childcare-subsidy      # a subject gets one of the two ...
    wins: bj-childcare-subsidy          # ... this one; without wins: the larger annual benefit
```

>>> rels, problem = read_relations([{"excludes": "bj-a", "wins": "bj-a"}, {"replaces": "bj-b"}])
>>> [(r.kind, r.policy_id, r.wins) for r in rels], problem
([('excludes', 'bj-a', 'bj-a'), ('replaces', 'bj-b', None)], None)
>>> read_relations([{"replace": "bj-b"}])[1]
"relations[1]: write one of replaces: ID, supplements: ID or excludes: ID (found 'replace')"

Who keeps which of two mutually exclusive policies is :func:`apply_exclusions`, a pure step over
the match pairs (``subject_id, policy_id, status, benefit``) that the matcher runs on every batch,
so grants, offers and notices all see one of the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import polars as pl

__all__ = [
    "KINDS",
    "Duplicate",
    "Relation",
    "apply_exclusions",
    "check_declared",
    "duplicates_of",
    "exclusions",
    "read_relations",
    "undeclared",
]

KINDS: Final = ("replaces", "supplements", "excludes")
# Benefit periods a year holds: the annual benefit decides which exclusive policy wins.
_PER_YEAR: Final = {"month": 12, "year": 1, "once": 1}


class Related(Protocol):
    """What the relations read of a policy (``rules.policy.Policy`` has it; that module holds
    :class:`Relation`, so this one cannot import it back)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def department(self) -> str: ...
    @property
    def audience(self) -> str: ...
    @property
    def eligibility(self) -> str: ...
    @property
    def relations(self) -> tuple[Relation, ...]: ...


@dataclass(frozen=True)
class Relation:
    kind: str  # replaces | supplements | excludes
    policy_id: str  # the published policy it stands in relation to
    wins: str | None = None  # excludes: the id of the policy a subject keeps; None: larger/year


@dataclass(frozen=True)
class Duplicate:
    """A published policy whose eligible set holds the draft's."""

    policy_id: str
    title: str
    department: str
    kind: str  # equivalent (the same people) | contained (the draft's lie inside it)
    by: str  # analysis (proved from the rules) | population (on the served population)


def read_relations(raw: Any) -> tuple[tuple[Relation, ...], str | None]:
    """The ``relations:`` value of a policy document, or a message saying how to write it."""
    if raw is None:
        return (), None
    if not isinstance(raw, list):
        return (), "relations is a list, e.g. relations: [{replaces: bj-elderly-allowance}]"
    out: list[Relation] = []
    for n, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            return (), f"relations[{n}]: write a mapping such as replaces: bj-elderly-allowance"
        kinds = [k for k in item if k in KINDS]
        extra = [str(k) for k in item if k not in (*KINDS, "wins")]
        if len(kinds) != 1 or extra:
            found = ", ".join(map(repr, extra or [str(k) for k in item]))
            return (), (
                f"relations[{n}]: write one of replaces: ID, supplements: ID or excludes: ID "
                f"(found {found})"
            )
        kind = kinds[0]
        target, wins = item[kind], item.get("wins")
        if not isinstance(target, str) or not target:
            return (), f"relations[{n}]: {kind} takes a policy id, e.g. {kind}: bj-x"
        if wins is not None and kind != "excludes":
            return (), f"relations[{n}]: wins belongs to excludes only; drop it from {kind}"
        if wins is not None and not isinstance(wins, str):
            return (), f"relations[{n}]: wins names the policy a subject keeps (an id)"
        out.append(Relation(kind, target, wins))
    return tuple(out), None


def check_declared(
    draft: Related, published: Mapping[str, Related], settled: Iterable[str] = ()
) -> list[str]:
    """What is wrong with ``draft``'s relations against the published catalog (messages).

    ``settled``: targets an earlier published version of the draft's policy already declared
    (a replaced policy is retired by then, and the next version keeps saying so)."""
    problems = []
    done = set(settled)
    for r in draft.relations:
        other = published.get(r.policy_id)
        if other is None and r.policy_id in done:
            continue
        if r.policy_id == draft.id:
            problems.append(f"{draft.id} cannot {r.kind} itself; a new version replaces the old")
        elif other is None:
            problems.append(
                f"{r.kind}: {r.policy_id} is not a published policy; name one in force "
                "(GET /api/v1/policies lists them)"
            )
        elif other.audience != draft.audience:
            problems.append(
                f"{r.kind}: {r.policy_id} is for {other.audience}s, {draft.id} for "
                f"{draft.audience}s; a relation joins policies of one audience"
            )
        if r.wins is not None and r.wins not in (draft.id, r.policy_id):
            problems.append(f"wins: {r.wins} must be {draft.id} or {r.policy_id}")
    return problems


def duplicates_of(
    draft: Related,
    published: Iterable[Related],
    *,
    eligible: Mapping[str, frozenset[str]] | None = None,
) -> list[Duplicate]:
    """The published policies whose eligible set equals or holds ``draft``'s.

    Decided by :func:`rules.analysis.implies` where it is a proof, and on ``eligible`` (the
    served population's eligible subjects per policy id, the draft's under its own id) where
    given: a draft reaching nobody there is contained in nothing.  Other versions of the draft's
    own policy are never duplicates of it.
    """
    from profiles.schema import load_schema
    from rules.analysis import implies, is_exact
    from rules.language import parse_rule

    schema = load_schema()
    entity = schema.entity(draft.audience)
    mine = parse_rule(draft.eligibility, entity)
    found: list[Duplicate] = []
    reach = eligible.get(draft.id) if eligible is not None else None
    for other in published:
        if other.id == draft.id or other.audience != draft.audience:
            continue
        theirs = parse_rule(other.eligibility, entity)
        kind, by = None, "analysis"
        # The analysis decides where it proves (atoms comparing a field with literals), either
        # way: a sample that happens to hold no counter-example does not make a duplicate.
        # Elsewhere (a regex, arithmetic, a group) the served population decides.
        if is_exact(mine) and is_exact(theirs) and not (mine.groups or theirs.groups):
            if implies(mine, theirs):
                kind = "equivalent" if implies(theirs, mine) else "contained"
        elif reach and eligible is not None and reach <= eligible.get(other.id, frozenset()):
            by = "population"
            kind = "equivalent" if reach == eligible.get(other.id) else "contained"
        if kind is not None:
            found.append(Duplicate(other.id, other.title, other.department, kind, by))
    return found


def undeclared(draft: Related, duplicates: Iterable[Duplicate]) -> list[Duplicate]:
    """The duplicates ``draft`` declares no relation to (it cannot be submitted with any).

    >>> from datetime import date
    >>> from rules.policy import Policy
    >>> d = Duplicate("bj-a", "津贴", "北京市民政局", "equivalent", "analysis")
    >>> p = Policy(id="bj-b", title="津贴", department="民政", audience="resident",
    ...            mode="auto_grant", eligibility="age >= 80", valid_from=date(2026, 1, 1))
    >>> [x.policy_id for x in undeclared(p, [d])]
    ['bj-a']
    >>> from dataclasses import replace
    >>> undeclared(replace(p, relations=(Relation("replaces", "bj-a"),)), [d])
    []
    """
    named = {r.policy_id for r in draft.relations}
    return [d for d in duplicates if d.policy_id not in named]


def exclusions(policies: Iterable[Any]) -> dict[tuple[str, str], tuple[str, str | None]]:
    """Mutually exclusive pairs among ``policies`` (both present): (a, b) sorted → (the policy
    that declared it, the declared winner or None)."""
    ids = set()
    declared: list[tuple[str, Relation]] = []
    for p in policies:
        ids.add(p.id)
        declared += [(p.id, r) for r in getattr(p, "relations", ()) if r.kind == "excludes"]
    out: dict[tuple[str, str], tuple[str, str | None]] = {}
    for owner, r in declared:
        if r.policy_id in ids and r.policy_id != owner:
            a, b = sorted((owner, r.policy_id))
            out[(a, b)] = (owner, r.wins)
    return out


def apply_exclusions(pairs: pl.DataFrame, policies: Sequence[Any]) -> pl.DataFrame:
    """``pairs`` without the losing policy of each mutually exclusive pair, per subject.

    A subject matched by both keeps one: the declared winner; else an eligible one over a maybe;
    else the larger annual benefit (benefit × periods a year); else the policy that declared the
    exclusion.  Pairs of subjects matched by only one are untouched.

    >>> from datetime import date
    >>> from rules.policy import Policy
    >>> def p(pid, period="month", rel=()):
    ...     return Policy(id=pid, title=pid, department="d", audience="resident",
    ...                   mode="auto_grant", eligibility="age >= 80", valid_from=date(2026, 1, 1),
    ...                   benefit="1", benefit_period=period, relations=rel)
    >>> pairs = pl.DataFrame({"subject_id": ["x", "x", "y"], "policy_id": ["a", "b", "a"],
    ...     "status": ["eligible"] * 3, "benefit": [100.0, 1000.0, 100.0]})
    >>> cat = [p("a"), p("b", "year", (Relation("excludes", "a"),))]
    >>> apply_exclusions(pairs, cat).rows()  # 1200 a year beats 1000
    [('x', 'a', 'eligible', 100.0), ('y', 'a', 'eligible', 100.0)]
    >>> cat = [p("a"), p("b", "year", (Relation("excludes", "a", wins="b"),))]
    >>> apply_exclusions(pairs, cat)["policy_id"].to_list()
    ['b', 'a']
    """
    found = exclusions(policies)
    if not found or not pairs.height:
        return pairs
    per_year = {p.id: _PER_YEAR.get(getattr(p, "benefit_period", None) or "", 1) for p in policies}
    out = pairs
    for (a, b), (owner, wins) in sorted(found.items()):
        both = out.filter(pl.col("policy_id").is_in([a, b]))
        if both.height < 2:
            continue
        ranked = (
            both.select("subject_id", "policy_id", "status", "benefit")
            .filter(pl.len().over("subject_id") > 1)
            .with_columns(
                (pl.col("policy_id") == (wins or "")).alias("__w"),
                (pl.col("status") == "eligible").alias("__e"),
                (
                    pl.col("benefit").cast(pl.Float64).fill_null(0.0)
                    * pl.col("policy_id").replace_strict(per_year, default=1, return_dtype=pl.Int64)
                ).alias("__y"),
                (pl.col("policy_id") == owner).alias("__d"),
            )
            .sort(
                ["subject_id", "__w", "__e", "__y", "__d"],
                descending=[False, True, True, True, True],
            )
        )
        losers = ranked.filter(pl.int_range(pl.len()).over("subject_id") > 0).select(
            "subject_id", "policy_id"
        )
        if losers.height:
            out = out.join(
                losers, on=["subject_id", "policy_id"], how="anti", maintain_order="left"
            )
    return out
