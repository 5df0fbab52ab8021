"""Validate incoming profiles and events against the schema, column by column (vectorised).

Each bad record is reported with its file, row (records counted from 1; a CSV header is not a
row), field, what was
expected and what was found.  A file with any bad record is rejected whole — loads are
all-or-nothing, so nothing half-written stays behind.  Fields a file lacks are unknown for every
record; columns the schema does not know are an error (with the nearest field suggested);
derived fields (``age``, ``age_years``) are computed at the as-of date and refused as input.
An enum's value may be written as itself or as its Chinese or English label (户主, 公租房).

>>> import polars as pl
>>> from profiles.schema import load_schema
>>> raw = pl.DataFrame({"person_id": ["p1", "p2"], "gender": ["female", "femail"]})
>>> try:
...     conform(raw, load_schema().resident, source="r.csv")
... except ValidationError as err:
...     print(err.problems[0])
r.csv row 2, field gender: expected one of male, female, found 'femail' (did you mean 'female'?)
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from core.errors import ValidationError
from profiles.schema import Entity, Field

__all__ = ["MAX_REPORTED", "Problem", "conform", "invalid_records"]

MAX_REPORTED = 20
_TRUE = ("true", "1", "yes", "y", "t", "是")
_FALSE = ("false", "0", "no", "n", "f", "否")


@dataclass(frozen=True)
class Problem:
    source: str
    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.source
        if self.row is not None:
            where += f" row {self.row}"
        if self.field is not None:
            where += f", field {self.field}" if self.row is not None else f" field {self.field}"
        return f"{where}: {self.message}"


def invalid_records(problems: list[Problem], total: int) -> ValidationError:
    """The error for ``total`` records that do not fit the schema, ``problems`` the first of
    them (up to a limit); its message shows three.

    >>> err = invalid_records([Problem("r.csv", 2, "age", "expected a whole number")], 1)
    >>> str(err), err.total
    ('1 problem: r.csv row 2, field age: expected a whole number', 1)
    """
    shown = "; ".join(str(p) for p in problems[:3])
    more = f" (and {total - 3} more)" if total > 3 else ""
    message = f"{total} problem{'s' if total != 1 else ''}: {shown}{more}"
    return ValidationError(message, problems=problems, total=total)


def _describe(field: Field) -> str:
    return {
        "string": "text",
        "integer": "a whole number",
        "number": "a number",
        "boolean": "true or false",
        "date": "a date YYYY-MM-DD",
        "datetime": "a date and time YYYY-MM-DDTHH:MM:SS",
        "enum": "one of " + ", ".join(field.values),
        "tags": "a list of tags",
    }[field.type]


def _cast(column: pl.Series, field: Field) -> pl.Series:
    """``column`` in the field's dtype; values that cannot be converted become null."""
    target = field.polars_dtype
    if column.dtype == target:
        return column
    flat_list = isinstance(column.dtype, pl.List) and not _nested(column.dtype.inner)
    if _nested(column.dtype) and not (field.type == "tags" and flat_list):
        # An object or a list where one value belongs: every value present is wrong.
        return pl.Series(column.name, [None] * column.len(), dtype=target)
    if field.type == "enum":
        # A value, or its Chinese or English label as departments write it (户主, 公租房).
        labels = {
            label: value
            for names in (field.values_en, field.values_zh)
            for value, label in zip(field.values, names, strict=False)
        }
        text = column.cast(pl.String, strict=False)
        return text.replace_strict(
            {**labels, **{v: v for v in field.values}}, default=None, return_dtype=pl.String
        ).cast(target)
    if field.type == "boolean" and column.dtype == pl.String:
        lowered = column.str.strip_chars().str.to_lowercase()
        mapping = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
        return lowered.replace_strict(mapping, default=None, return_dtype=pl.Boolean)
    if field.type == "date" and column.dtype == pl.String:
        # An Excel date read as text carries a midnight time; exports also write 2024/1/31.
        text = column.str.strip_chars().str.strip_suffix(" 00:00:00")
        return text.str.to_date("%Y-%m-%d", strict=False).fill_null(
            text.str.to_date("%Y/%m/%d", strict=False)
        )
    if field.type == "datetime" and column.dtype == pl.String:
        return column.str.strip_chars().str.to_datetime(strict=False, time_unit="us")
    if field.type == "tags" and column.dtype == pl.String:
        split = column.str.strip_chars().str.split(";").list.eval(pl.element().str.strip_chars())
        return split.list.eval(pl.element().filter(pl.element() != ""))
    if field.type == "integer" and column.dtype == pl.String:
        column = column.str.strip_chars()
        as_float = column.cast(pl.Float64, strict=False)
        whole = as_float.round(0) == as_float
        return pl.Series(column.name, as_float).set(~whole.fill_null(True), None).cast(pl.Int64)
    if field.type == "integer" and column.dtype.is_float():
        whole = column.round(0) == column
        return column.set(~whole.fill_null(True), None).cast(pl.Int64, strict=False)
    return column.cast(target, strict=False)


def _nested(dtype: pl.DataType | pl.datatypes.DataTypeClass) -> bool:
    return dtype.is_nested() or dtype == pl.Object


def conform(frame: pl.DataFrame, entity: Entity, *, source: str) -> pl.DataFrame:
    """``frame`` checked and cast to ``entity``'s stored columns; raise listing every problem."""
    problems: list[Problem] = []
    total = 0

    def report(row: int | None, field: str | None, message: str) -> None:
        nonlocal total
        total += 1
        if len(problems) < MAX_REPORTED:
            problems.append(Problem(source, row, field, message))

    frame, header = _english_headers(frame, entity, report)
    for name in frame.columns:
        if name in entity.by_name and entity.by_name[name].is_derived:
            f = entity.by_name[name]
            report(None, header.get(name, name), f"{name} is derived from {f.derived_from} at "
                   "the as-of date; remove the column")  # fmt: skip
        elif name not in entity.by_name:
            known = [*entity.field_names, *entity.by_name_zh]
            near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            report(None, name, f"unknown field for {entity.name}s{hint} (to add fields, "
                   "extend the schema with ZHIDA_SCHEMA_EXTENSIONS)")  # fmt: skip
    rows = pl.Series("row", range(1, frame.height + 1))  # records counted from 1, header excluded
    columns: list[pl.Series] = []
    for f in entity.stored_fields:
        if f.name not in frame.columns:
            if f.required:
                named = f"{f.name} ({f.name_zh})" if f.name_zh else f.name
                report(None, f.name, f"required column {named} is missing")
            columns.append(pl.Series(f.name, [None] * frame.height, dtype=f.polars_dtype))
            continue
        raw = frame[f.name]
        cast = _cast(raw, f)
        _check_column(raw, cast, f, rows, header.get(f.name, f.name), report)
        columns.append(cast.alias(f.name))
    if entity.key and entity.key in frame.columns:
        key = frame[entity.key].cast(pl.String, strict=False)
        duplicated = key.is_duplicated() & key.is_not_null()
        for row, value in zip(rows.filter(duplicated), key.filter(duplicated), strict=True):
            report(row, entity.key, f"duplicate {entity.key} {value!r}")
    if total:
        raise invalid_records(problems, total)
    return pl.DataFrame(columns)


def _english_headers(
    frame: pl.DataFrame, entity: Entity, report: Callable[[int | None, str | None, str], None]
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Columns headed by a field's Chinese name (个人编号, 出生日期) renamed to the field.

    Returns the renamed frame and, for each renamed field, the header as the file wrote it.
    """
    renames: dict[str, str] = {}
    twice: list[str] = []
    for name in frame.columns:
        f = entity.by_name_zh.get(name.strip())
        if f is None or name in entity.by_name:
            continue
        if f.name in frame.columns or f.name in renames.values():
            report(None, name, f"{name} and {f.name} are the same field; keep one of the columns")
            twice.append(name)
            continue
        renames[name] = f.name
    header = {english: written for written, english in renames.items()}
    return frame.drop(twice).rename(renames), header


def _check_column(
    raw: pl.Series,
    cast: pl.Series,
    f: Field,
    rows: pl.Series,
    label: str,
    report: Callable[[int | None, str | None, str], None],
) -> None:
    missing = raw.is_null()
    if raw.dtype == pl.String:
        missing = missing | (raw.str.strip_chars() == "")
    if f.required:
        for row in rows.filter(missing.fill_null(True)):
            report(row, label, f"a value is required ({_describe(f)})")
    bad = cast.is_null() & ~missing.fill_null(True)
    for row, value in zip(rows.filter(bad), raw.filter(bad), strict=True):
        hint = ""
        if f.type == "enum":
            near = difflib.get_close_matches(str(value), f.values, n=1, cutoff=0.5)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
        report(row, label, f"expected {_describe(f)}, found {_found(value)}{hint}")
    if f.type in ("integer", "number") and (f.min is not None or f.max is not None):
        low = cast < f.min if f.min is not None else pl.Series([False] * cast.len())
        high = cast > f.max if f.max is not None else pl.Series([False] * cast.len())
        out = low.fill_null(False) | high.fill_null(False)
        for row, value in zip(rows.filter(out), cast.filter(out), strict=True):
            report(row, label, f"{value} is outside {f.min}..{f.max}")
    if f.pattern and cast.dtype == pl.String:
        mismatch = ~cast.str.contains(f.pattern).fill_null(True)
        for row, value in zip(rows.filter(mismatch), cast.filter(mismatch), strict=True):
            report(
                row, label, f"{value!r} does not have the expected form ({_describe_pattern(f)})"
            )


def _found(value: object) -> str:
    """A value as a problem shows it: quoted, the same whether a file had it as text or not.

    >>> _found("2.5"), _found(2.5), _found(True)
    ("'2.5'", "'2.5'", "'True'")
    >>> _found({"code": "female"}), _found(pl.Series([1, 2]))
    ('an object {"code": "female"}', 'a list [1, 2]')
    """
    if isinstance(value, pl.Series):
        value = value.to_list()
    if isinstance(value, dict | list):
        kind = "an object" if isinstance(value, dict) else "a list"
        return f"{kind} {json.dumps(value, ensure_ascii=False, default=str)}"
    return repr(value if isinstance(value, str) else str(value))


def _describe_pattern(f: Field) -> str:
    return f.en if re.search(r"[A-Za-z]", f.en) else f.pattern or ""
