"""Checks across files: do the links between residents, households, firms and jobs hold?

:func:`profiles.validation.conform` checks each file by itself; these check what one file says
about another, before anything is loaded or matched.  Each problem names the file, the row
(records counted from 1) and the field, and says how to fix it; any problem refuses the whole
population (nothing is loaded).  Refused:

- a resident whose ``household_id`` is in no households file;
- a household with no head, or with two or more (every household has exactly one);
- a child of the head (``relation_to_head: child``) born before the head or the spouse, or
  anyone born before the mother or father their ``mother_id``/``father_id`` names;
- a household whose ``contact_person_id`` is no resident;
- an employment of an unknown person or at an unknown firm, or one that ends before it starts.

A population without links (no households or employments, no resident naming a household) is
not checked here at all: it loads as it always did.  Nor is a resident's ``household_id`` when
there are no households at all (in the files or the database): without them the population is
read flat, as before (a sample of residents drawn without their households, say).

>>> from core.errors import ValidationError
>>> people = pl.DataFrame({"person_id": ["a", "b"], "household_id": ["h1", "h9"],
...                        "relation_to_head": ["head", "head"]})
>>> homes = pl.DataFrame({"household_id": ["h1"]})
>>> try:
...     check_links({"resident": people, "household": homes},
...                 {"resident": "residents.csv", "household": "households.csv"})
... except ValidationError as err:
...     problem = err.problems[0]
>>> problem.source, problem.row, problem.field
('residents.csv', 2, 'household_id')
>>> problem.message
"household 'h9' is in no households file; add it to households.csv or correct the ..."
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from profiles.validation import MAX_REPORTED, Problem, invalid_records

__all__ = ["check_links", "has_links"]

Frame = pl.DataFrame | pl.LazyFrame


def has_links(frames: Mapping[str, Frame]) -> bool:
    """Whether a population has links to check: a households or employments file, or a
    resident naming a household."""
    if "household" in frames or "employment" in frames:
        return True
    residents = frames.get("resident")
    if residents is None or "household_id" not in residents.collect_schema().names():
        return False
    named = residents.lazy().select(pl.col("household_id").is_not_null().any()).collect()
    return bool(named.item())


_STORED = "the database"  # where a row already loaded is, for the messages
_KEYS = {"resident": "person_id", "household": "household_id", "enterprise": "enterprise_id"}


class _Report:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.total = 0

    def add(self, rows: pl.DataFrame, source: str, field: str, message: str) -> None:
        """One problem per row of ``rows`` (a ``__row`` column, null for a row already in the
        database, and the fields ``message`` formats with ``str.format``)."""
        self.total += rows.height
        room = MAX_REPORTED - len(self.problems)
        for record in rows.head(max(room, 0)).iter_rows(named=True):
            row = record.pop("__row")
            where = source if row is not None else _STORED
            self.problems.append(Problem(where, row, field, message.format(**record)))


def _numbered(frame: Frame, *columns: str, stored: bool = False) -> pl.DataFrame:
    """``columns`` of ``frame`` (absent ones unknown, enums as text) with the file's row
    number (null for ``stored`` rows, already in the database)."""
    present = frame.collect_schema()
    picked = []
    for c in columns:
        if c not in present:
            picked.append(pl.lit(None, pl.String).alias(c))
        elif isinstance(present[c], pl.Enum | pl.Categorical):
            picked.append(pl.col(c).cast(pl.String))
        else:
            picked.append(pl.col(c))
    row = pl.lit(None, pl.Int64) if stored else pl.col("__row").cast(pl.Int64)
    return (
        frame.lazy().with_row_index("__row", offset=1).select(row.alias("__row"), *picked).collect()
    )


def _table(
    entity: str,
    frames: Mapping[str, Frame],
    existing: Mapping[str, Frame],
    *columns: str,
) -> pl.DataFrame | None:
    """``entity``'s rows being loaded, then those already stored that the load does not
    replace (same key); ``None`` when there are neither."""
    parts = []
    if entity in frames:
        parts.append(_numbered(frames[entity], *columns))
    if entity in existing:
        old = _numbered(existing[entity], *columns, stored=True)
        key = _KEYS.get(entity)
        if parts and key:
            old = old.join(parts[0].select(key), on=key, how="anti")
        parts.append(old)
    return pl.concat(parts, how="vertical_relaxed") if parts else None


def check_links(
    frames: Mapping[str, Frame],
    sources: Mapping[str, str],
    *,
    existing: Mapping[str, Frame] | None = None,
) -> None:
    """Refuse ``frames`` (keyed by entity: resident, household, enterprise, employment; each
    as its file was read, in its order) if a link between them does not hold.

    ``sources`` names each entity's file for the messages; ``existing`` holds the records
    already loaded (the database's), which a link may name and which the frames replace by
    key.  Raises :class:`ValidationError` listing the problems (file, row, field, how to
    fix); returns ``None`` when every link holds or the frames have none.
    """
    existing = existing or {}
    if not has_links(frames) and "household" not in existing:
        return
    report = _Report()
    residents = _table(
        "resident",
        frames,
        existing,
        "person_id",
        "household_id",
        "relation_to_head",
        "birth_date",
        "mother_id",
        "father_id",
    )
    households = _table("household", frames, existing, "household_id", "contact_person_id")
    if households is not None:
        _check_households(households, residents, sources, report)
    if residents is not None:
        _check_parents(residents, sources.get("resident", "residents"), report)
    if "employment" in frames:
        jobs = _numbered(frames["employment"], "person_id", "enterprise_id", "hired_on", "left_on")
        firms = _table("enterprise", frames, existing, "enterprise_id")
        _check_employments(jobs, residents, firms, sources, report)
    if report.total:
        raise invalid_records(report.problems, report.total)


def _check_households(
    households: pl.DataFrame,
    residents: pl.DataFrame | None,
    sources: Mapping[str, str],
    report: _Report,
) -> None:
    home_file = sources.get("household", "households")
    people_file = sources.get("resident", "residents")
    members = (
        residents.filter(pl.col("household_id").is_not_null())
        if residents is not None
        else pl.DataFrame(
            schema={
                "__row": pl.Int64,
                "person_id": pl.String,
                "household_id": pl.String,
                "relation_to_head": pl.String,
                "birth_date": pl.Date,
            }
        )
    )
    homeless = members.join(households.select("household_id"), on="household_id", how="anti")
    report.add(
        homeless.select("__row", "household_id"),
        people_file,
        "household_id",
        "household {household_id!r} is in no households file; add it to "
        + home_file
        + " or correct the resident's household_id",
    )
    heads = members.filter(pl.col("relation_to_head") == "head")
    head_count = heads.group_by("household_id").agg(pl.len().alias("heads"))
    headless = households.join(head_count, on="household_id", how="anti").sort("__row")
    report.add(
        headless.select("__row", "household_id"),
        home_file,
        "household_id",
        "household {household_id!r} has no head: mark exactly one of its members "
        "relation_to_head head (户主) in " + people_file,
    )
    crowded = heads.join(
        head_count.filter(pl.col("heads") > 1), on="household_id", how="inner"
    ).sort("__row")
    report.add(
        crowded.select("__row", "household_id", "heads", "person_id"),
        people_file,
        "relation_to_head",
        "household {household_id!r} has {heads} heads ({person_id} is one); a household has "
        "exactly one head (户主): give the others their relation to the head (spouse, child, …)",
    )
    elders = (
        members.filter(pl.col("relation_to_head").is_in(["head", "spouse"]))
        .filter(pl.col("birth_date").is_not_null())
        .select(
            "household_id",
            pl.col("person_id").alias("elder_id"),
            pl.col("relation_to_head").alias("elder_role"),
            pl.col("birth_date").alias("elder_born"),
        )
    )
    older_children = (
        members.filter(pl.col("relation_to_head") == "child")
        .join(elders, on="household_id", how="inner")
        .filter(pl.col("birth_date") < pl.col("elder_born"))
        .sort("__row", "elder_born")
        .unique(["__row", "person_id"], keep="first", maintain_order=True)
    )
    report.add(
        older_children.select(
            "__row", "person_id", "birth_date", "elder_role", "elder_id", "elder_born"
        ),
        people_file,
        "birth_date",
        "{person_id} is a child of the head (relation_to_head child) but was born "
        "{birth_date}, before the {elder_role} {elder_id} (born {elder_born}); correct the "
        "birth date or the relation to the head",
    )
    if residents is not None:
        known = residents.select(pl.col("person_id").alias("contact_person_id"))
        strangers = households.filter(pl.col("contact_person_id").is_not_null()).join(
            known, on="contact_person_id", how="anti"
        )
        report.add(
            strangers.select("__row", "contact_person_id"),
            home_file,
            "contact_person_id",
            "contact {contact_person_id!r} is no resident in " + people_file + "; name a "
            "resident's person_id, or leave it empty for the head",
        )


def _check_parents(residents: pl.DataFrame, people_file: str, report: _Report) -> None:
    born = residents.select(
        pl.col("person_id").alias("__parent"), pl.col("birth_date").alias("parent_born")
    )
    for link in ("mother_id", "father_id"):
        younger = (
            residents.filter(pl.col(link).is_not_null() & pl.col("birth_date").is_not_null())
            .join(born, left_on=link, right_on="__parent", how="inner")
            .filter(pl.col("birth_date") <= pl.col("parent_born"))
            .sort("__row")
        )
        report.add(
            younger.select(
                "__row", "person_id", "birth_date", pl.col(link).alias("parent"), "parent_born"
            ),
            people_file,
            "birth_date",
            f"{{person_id}} was born {{birth_date}}, not after the {link.removesuffix('_id')} "
            "{parent} (born {parent_born}); correct the birth date or " + link,
        )


def _check_employments(
    jobs: pl.DataFrame,
    residents: pl.DataFrame | None,
    firms: pl.DataFrame | None,
    sources: Mapping[str, str],
    report: _Report,
) -> None:
    jobs_file = sources.get("employment", "employments")
    for key, entity, plural, known in (
        ("person_id", "resident", "residents", residents),
        ("enterprise_id", "enterprise", "enterprises", firms),
    ):
        keys = known.select(key) if known is not None else pl.DataFrame(schema={key: pl.String})
        unknown = jobs.join(keys, on=key, how="anti").sort("__row")
        where = sources.get(entity, f"a {plural}.* file")
        report.add(
            unknown.select("__row", pl.col(key).alias("value")),
            jobs_file,
            key,
            "{value!r} is in no " + plural + " file (" + where + "); add the "
            f"{entity} or correct the employment's {key}",
        )
    backwards = jobs.filter(pl.col("left_on") < pl.col("hired_on"))
    report.add(
        backwards.select("__row", "hired_on", "left_on"),
        jobs_file,
        "left_on",
        "left on {left_on}, before being hired on {hired_on}; correct one of the dates",
    )
