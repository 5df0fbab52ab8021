"""Who a benefit belongs to and who is told: each pair's ``unit`` and ``recipient_id``.

Matching gives one pair per (subject, policy).  A policy's unit (``rules.policy.Policy
.unit_kind``) says whose benefit it is, and its recipient (``recipient_kind``) who is told:

- ``person`` / ``enterprise``: the pair's own subject, counted once;
- ``household`` from a per-resident rule (e.g. 低保 written as ``household.income_per_capita <
  1450``): every member matches, but the benefit is the household's — the members' pairs become
  one pair of the household (``subject_type`` ``household``), eligible if any member is (else
  maybe), with the benefit of its best-status members (the largest, if they differ).  A
  resident without a household is a household of one and keeps their own pair;
- recipient ``self``: the subject itself; ``head``: the household's ``contact_person_id``, else
  its head (the member whose ``relation_to_head`` is ``head``); ``guardian``: the subject's
  ``guardian_id``, else ``mother_id``, else ``father_id``, the first who is among the residents
  (not one who died or left) — one message per child.  Where a link is unknown the next one is
  asked (a guardian, then the household's head), and without any links the subject itself is
  told: files without links match exactly as before.

Amounts, costs, reach and run diffs read these pairs, so each unit is counted once.

>>> people = pl.DataFrame({
...     "person_id": ["mum", "dad", "kid", "solo"],
...     "household_id": ["h1", "h1", "h1", None],
...     "relation_to_head": ["head", "spouse", "child", None],
...     "mother_id": [None, None, "mum", None],
... })
>>> links = Links.from_frames({"resident": people.lazy()})
>>> pairs = pl.DataFrame({
...     "subject_id": ["mum", "dad", "kid", "solo", "kid"],
...     "subject_type": ["resident"] * 5,
...     "policy_id": ["dibao", "dibao", "dibao", "dibao", "childcare"],
...     "status": ["maybe", "eligible", "eligible", "maybe", "eligible"],
...     "benefit": [None, 900, 900, None, 3600],
... }, schema_overrides={"benefit": pl.Decimal(18, 2)})
>>> units = {"dibao": ("household", "head"), "childcare": ("person", "guardian")}
>>> out = pl.concat(attribute_units([pairs], units, links))
>>> for row in out.select("subject_id", "subject_type", "policy_id", "status", "unit",
...                       "recipient_id").rows():
...     print(*row)
solo resident dibao maybe household solo
kid resident childcare eligible person mum
h1 household dibao eligible household mum
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import polars as pl

from matcher.batch import (
    DEFAULT_BATCH_ROWS,
    MATCH_SCHEMA,
    MatchablePolicy,
    Tagger,
    match_population,
)
from profiles.schema import Schema, load_schema

__all__ = [
    "PAIRS_SCHEMA",
    "SUBJECT_TYPES",
    "UNIT_DTYPE",
    "Links",
    "UnitPolicy",
    "attribute_units",
    "match_units",
    "match_units_frame",
    "needs_links",
    "told_pairs",
    "unit_change_rows",
    "unit_columns",
    "units_of",
    "with_unit_columns",
]

SUBJECT_TYPES = ("resident", "enterprise", "household")
UNIT_DTYPE = pl.Enum(["person", "household", "enterprise"])
# A pairs file of `zhida match`: MATCH_SCHEMA's columns, then whose benefit and who is told.
PAIRS_SCHEMA = pl.Schema(
    {
        **dict(MATCH_SCHEMA),
        "subject_type": pl.Enum(list(SUBJECT_TYPES)),
        "unit": UNIT_DTYPE,
        "recipient_id": pl.String(),
    }
)
_UNIT_OF_TYPE = {"resident": "person", "enterprise": "enterprise", "household": "household"}
# The links read from residents, and what a missing one means: unknown.
# Who is told for a child, in the order asked: the schema's guardian fields.
_PARENTS = load_schema().resident.guardian_fields
_HOUSEHOLD_LINK = ("household_id", "relation_to_head")  # the resident's place in a household
_PERSON_LINKS = (*_HOUSEHOLD_LINK, *_PARENTS)


class UnitPolicy(MatchablePolicy, Protocol):
    """What attribution needs of a policy besides matching (``rules.policy.Policy`` has it)."""

    @property
    def unit_kind(self) -> str: ...
    @property
    def recipient_kind(self) -> str: ...


def units_of(policies: Iterable[UnitPolicy]) -> dict[str, tuple[str, str]]:
    """Policy id → (unit, recipient)."""
    return {p.id: (p.unit_kind, p.recipient_kind) for p in policies}


def needs_links(units: Mapping[str, tuple[str, str]]) -> bool:
    """Whether any policy's unit or recipient is another subject than the pair's own.

    >>> needs_links({"a": ("person", "self")}), needs_links({"b": ("person", "guardian")})
    (False, True)
    """
    return any(unit == "household" or told != "self" for unit, told in units.values())


@dataclass(frozen=True)
class Links:
    """Per person: their household and who is told for them; per household: its recipient.

    ``people``: person_id, household_id, guardian (guardian, else mother, else father; one who
    resides); ``households``: household_id, head (contact, else head), a member's recipient.
    """

    people: pl.DataFrame
    households: pl.DataFrame

    @classmethod
    def from_frames(cls, frames: Mapping[str, pl.LazyFrame]) -> Links:
        """The links of a population's frames (``resident`` and, when present, ``household``)."""
        residents = frames.get("resident")
        if residents is None:
            return cls(_empty_people(), _empty_households())
        present = residents.collect_schema()
        people = residents.select(
            pl.col("person_id").cast(pl.String),
            *(
                (pl.col(c) if c in present else pl.lit(None)).cast(pl.String).alias(c)
                for c in _PERSON_LINKS
            ),
        ).collect()
        heads = (
            people.filter(pl.col("relation_to_head") == "head")
            .group_by("household_id")
            .agg(pl.col("person_id").min().alias("head_id"))
        )
        if (frame := frames.get("household")) is not None:
            # Every member's household is in it (the links are checked when the files are read).
            columns = frame.collect_schema()
            contact = (
                pl.col("contact_person_id") if "contact_person_id" in columns else pl.lit(None)
            )
            households = frame.select(
                pl.col("household_id").cast(pl.String), contact.cast(pl.String).alias("contact")
            ).collect()
        else:
            households = (
                people.select("household_id")
                .drop_nulls()
                .unique()
                .with_columns(pl.lit(None, pl.String).alias("contact"))
            )
        households = households.join(heads, on="household_id", how="left").select(
            "household_id", pl.coalesce("contact", "head_id").alias("head")
        )
        # A guardian or parent not among the residents (dead, moved away) is not told.  Only the
        # parents the few linked children name are looked up, by a semi join against everyone
        # (is_in against 200k ids cost 0.5 s; a join of every resident, 0.3 s more).
        linked = pl.any_horizontal(pl.col(c).is_not_null() for c in _PARENTS)
        children = people.filter(linked)
        named = pl.concat([children.select(pl.col(c).alias("person_id")) for c in _PARENTS])
        residing = (
            named.drop_nulls()
            .unique()
            .join(people.select("person_id"), on="person_id", how="semi")
            .with_columns(pl.lit(True).alias("__residing"))
        )
        for c in _PARENTS:
            found = residing.rename({"person_id": c, "__residing": f"__{c}"})
            children = children.join(found, on=c, how="left")
        guardian = pl.coalesce(*(pl.when(pl.col(f"__{c}")).then(pl.col(c)) for c in _PARENTS))
        # Each member's head is joined to the pairs, not to every resident (matcher.units'
        # _attribute): a run has few pairs and a million residents.
        people = people.select("person_id", "household_id").join(
            children.select("person_id", guardian.alias("guardian")),
            on="person_id",
            how="left",
            maintain_order="left",
        )
        return cls(people, households)


def _empty_people() -> pl.DataFrame:
    return pl.DataFrame(schema=dict.fromkeys(("person_id", "household_id", "guardian"), pl.String))


def _empty_households() -> pl.DataFrame:
    return pl.DataFrame(schema={"household_id": pl.String, "head": pl.String})


def unit_columns(units: Mapping[str, tuple[str, str]]) -> pl.DataFrame:
    """Policy id → unit and recipient kind, as a frame to join pairs with."""
    return pl.DataFrame(
        {
            "policy_id": list(units),
            "__unit": [u for u, _ in units.values()],
            "__told": [t for _, t in units.values()],
        },
        schema={"policy_id": pl.String, "__unit": pl.String, "__told": pl.String},
    )


def attribute_units(
    batches: Iterable[pl.DataFrame],
    units: Mapping[str, tuple[str, str]],
    links: Links | None,
) -> Iterator[pl.DataFrame]:
    """``batches`` of pairs with ``unit`` and ``recipient_id`` (:data:`PAIRS_SCHEMA`).

    Pairs of a person, an enterprise or a household are yielded with their batch; members'
    pairs of a household-unit policy are held to the end and yielded as one pair per household,
    so a household split over batches is still counted once.
    """
    policies = unit_columns(units)
    links = links or Links(_empty_people(), _empty_households())
    held: list[pl.DataFrame] = []
    for batch in batches:
        if batch.is_empty():
            continue
        attributed = _attribute(batch, policies, links)
        members = (pl.col("subject_type") == "resident") & (pl.col("__unit") == "household")
        members &= pl.col("household_id").is_not_null()
        held.append(attributed.filter(members))
        own = attributed.filter(~members)
        if not own.is_empty():
            yield _finish(own)
    members_pairs = pl.concat(held) if held else None
    if members_pairs is not None and not members_pairs.is_empty():
        yield _finish(_per_household(members_pairs))


def _attribute(batch: pl.DataFrame, policies: pl.DataFrame, links: Links) -> pl.DataFrame:
    pairs = batch.with_columns(pl.col("subject_type").cast(pl.String)).join(
        policies, on="policy_id", how="left", maintain_order="left"
    )
    pairs = pairs.with_columns(
        pl.col("__unit").fill_null(pl.col("subject_type").replace_strict(_UNIT_OF_TYPE)),
        pl.col("__told").fill_null("self"),
    )
    residents = pl.col("subject_type") == "resident"
    pairs = (
        pairs.join(
            links.people,
            left_on="subject_id",
            right_on="person_id",
            how="left",
            maintain_order="left",
        )
        .join(links.households, on="household_id", how="left", maintain_order="left")
        .join(
            links.households.rename({"head": "household_head"}),
            left_on="subject_id",
            right_on="household_id",
            how="left",
            maintain_order="left",
        )
    )
    told, me = pl.col("__told"), pl.col("subject_id")
    recipient = (
        pl.when(pl.col("subject_type") == "household")
        .then(pl.coalesce("household_head", me))
        .when(residents & (told == "guardian"))
        .then(pl.coalesce("guardian", "head", me))
        .when(residents & ((told == "head") | (pl.col("__unit") == "household")))
        .then(pl.coalesce("head", me))
        .otherwise(me)
    )
    return pairs.with_columns(recipient.alias("recipient_id"))


def _per_household(members: pl.DataFrame) -> pl.DataFrame:
    """Members' pairs of household-unit policies, one per (household, policy)."""
    status = pl.col("status").cast(MATCH_SCHEMA["status"])
    best = status.min()  # eligible before maybe
    return (
        members.with_columns(status)
        .group_by("household_id", "policy_id")
        .agg(
            best.alias("status"),
            pl.col("benefit").filter(status == best).max().alias("benefit"),
            pl.col("recipient_id").drop_nulls().first().alias("recipient_id"),
        )
        .select(
            pl.col("household_id").alias("subject_id"),
            pl.lit("household").alias("subject_type"),
            "policy_id",
            "status",
            "benefit",
            pl.lit("household").alias("__unit"),
            "recipient_id",
        )
        .sort("policy_id", "subject_id")
    )


def _finish(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.select(
        "subject_id",
        pl.col("subject_type").cast(PAIRS_SCHEMA["subject_type"]),
        "policy_id",
        pl.col("status").cast(PAIRS_SCHEMA["status"]),
        pl.col("benefit").cast(PAIRS_SCHEMA["benefit"]),
        pl.col("__unit").cast(UNIT_DTYPE).alias("unit"),
        pl.col("recipient_id").cast(pl.String),
    )


def with_unit_columns(pairs: pl.LazyFrame) -> pl.LazyFrame:
    """A pairs file read as :data:`PAIRS_SCHEMA`: one written before units (or by a run that
    needed none) has each pair as its own subject's, told to itself.

    >>> old = pl.LazyFrame({"subject_id": ["a"], "subject_type": ["resident"],
    ...                     "policy_id": ["p"], "status": ["eligible"], "benefit": [None]})
    >>> with_unit_columns(old).select("unit", "recipient_id").collect().row(0)
    ('person', 'a')
    """
    names = pairs.collect_schema().names()
    subject_type = pl.col("subject_type").cast(pl.String)
    extra = []
    if "unit" not in names:
        extra.append(subject_type.replace_strict(_UNIT_OF_TYPE).alias("unit"))
    if "recipient_id" not in names:
        extra.append(pl.col("subject_id").alias("recipient_id"))
    return pairs.with_columns(extra).select(pl.col(n).cast(t) for n, t in PAIRS_SCHEMA.items())


def match_units(
    frames: Mapping[str, pl.LazyFrame],
    policies: Sequence[UnitPolicy],
    schema: Schema,
    *,
    as_of: date,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    tagger: Tagger | None = None,
) -> Iterator[pl.DataFrame]:
    """:func:`matcher.batch.match_population`'s pairs, each its unit's and with its recipient
    (:data:`PAIRS_SCHEMA`).  The links are read only when a policy's unit or recipient is
    another subject than the pair's own."""
    units = units_of(policies)
    links = Links.from_frames(frames) if needs_links(units) else None
    pairs = match_population(
        dict(frames), policies, schema, as_of=as_of, batch_rows=batch_rows, tagger=tagger
    )
    return attribute_units(pairs, units, links)


def match_units_frame(
    frames: Mapping[str, pl.LazyFrame],
    policies: Sequence[UnitPolicy],
    schema: Schema,
    *,
    as_of: date,
) -> pl.DataFrame:
    """All of :func:`match_units`' pairs in one frame (what-ifs, tests, small populations)."""
    batches = list(match_units(frames, policies, schema, as_of=as_of))
    return pl.concat(batches) if batches else PAIRS_SCHEMA.to_frame()


def told_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    """``pairs`` as the people told of them see them: a household's pair becomes its
    recipient's (a resident), once per (person, policy) — what per-person models (behaviour,
    ranking) read.  Pairs of persons and firms are as they are.

    >>> pairs = pl.DataFrame({"subject_id": ["h1", "kid"],
    ...     "subject_type": ["household", "resident"], "policy_id": ["dibao", "childcare"],
    ...     "status": ["eligible"] * 2,
    ...     "benefit": [None, None], "unit": ["household", "person"],
    ...     "recipient_id": ["mum", "mum"]})
    >>> told_pairs(pairs).select("subject_id", "subject_type", "policy_id").rows()
    [('mum', 'resident', 'dibao'), ('kid', 'resident', 'childcare')]
    """
    if "recipient_id" not in pairs.columns:
        return pairs
    household = pl.col("subject_type").cast(pl.String) == "household"
    return pairs.with_columns(
        pl.when(household)
        .then(pl.col("recipient_id"))
        .otherwise(pl.col("subject_id"))
        .alias("subject_id"),
        pl.when(household)
        .then(pl.lit("resident"))
        .otherwise(pl.col("subject_type").cast(pl.String))
        .cast(pairs.schema["subject_type"])
        .alias("subject_type"),
    ).unique(["subject_id", "policy_id"], keep="first", maintain_order=True)


def unit_change_rows(
    rows: Iterable[Mapping[str, object]],
    units: Mapping[str, tuple[str, str]],
    record: Mapping[str, object],
    heads: Mapping[str, str],
) -> list[dict[str, object]]:
    """One subject's change rows (``matcher.live.ledger.change_rows``) as their units' with
    their recipients: the event-path twin of :func:`attribute_units`.

    ``record`` is the subject's (its ``household_id`` and guardian links); ``heads`` maps a
    household to who is told for it (:func:`matcher.live.recipients.household_heads`).  A
    member's change of a household-unit policy is the household's; a child's is told to its
    guardian, else mother, else father, else the household's head.

    >>> rows = [{"subject_id": "kid", "subject_type": "resident", "policy_id": "dibao"},
    ...         {"subject_id": "kid", "subject_type": "resident", "policy_id": "childcare"}]
    >>> units = {"dibao": ("household", "head"), "childcare": ("person", "guardian")}
    >>> record = {"household_id": "h1", "mother_id": "mum"}
    >>> [(r["subject_id"], r["subject_type"], r["recipient_id"])
    ...  for r in unit_change_rows(rows, units, record, {"h1": "dad"})]
    [('h1', 'household', 'dad'), ('kid', 'resident', 'mum')]
    """
    out = []
    for row in rows:
        subject, kind = str(row["subject_id"]), str(row["subject_type"])
        unit, told = units.get(str(row["policy_id"]), (_UNIT_OF_TYPE.get(kind, "person"), "self"))
        home = record.get("household_id") if kind == "resident" else None
        head = heads.get(str(home)) if home else None
        changed = dict(row)
        if kind == "resident" and unit == "household" and home:
            changed |= {"subject_id": str(home), "subject_type": "household"}
            changed["recipient_id"] = head or subject
        elif kind == "resident" and told == "guardian":
            parents = (record.get(c) for c in _PARENTS)
            changed["recipient_id"] = next((str(p) for p in parents if p), head or subject)
        elif kind == "resident" and told == "head":
            changed["recipient_id"] = head or subject
        elif kind == "household":  # a change recorded as the household's already
            changed["recipient_id"] = heads.get(subject) or subject
        else:
            changed["recipient_id"] = subject
        out.append(changed)
    return out
