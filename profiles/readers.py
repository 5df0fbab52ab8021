"""Reading the files departments send — Parquet, CSV, JSON, Excel — into frames as they are.

Types are checked later, the same way for every format (:func:`profiles.validation.conform`):
CSV and Excel values are read as text, JSON values as text too (a JSON number ``3`` and a CSV
``3`` are the same value), Parquet keeps its types.  A CSV's encoding is UTF-8 (with or without
a byte-order mark) or else GB18030, the superset of GBK that Chinese government systems
export; ``encoding=`` overrides the guess.  An Excel workbook's first sheet is read; dates
stored as Excel dates arrive as ``YYYY-MM-DD 00:00:00``.  A JSON file is an array of records
or one record per line; a record that is not an object, or a value that is an object or a
list where the schema wants one value, is a problem naming the file, the row and the field —
never a traceback.

>>> json_cell(["a", "b"], tags=True), json_cell("a; b", tags=True), json_cell(3, tags=False)
(['a', 'b'], ['a', 'b'], '3')
>>> json_cell(True, tags=False), json_cell(2.5, tags=False)
('true', '2.5')
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from core.errors import InputFileError
from profiles.validation import MAX_REPORTED, Problem, invalid_records

__all__ = ["EXCEL_SUFFIXES", "JSON_SUFFIXES", "Records", "json_cell", "read_records"]

JSON_SUFFIXES = frozenset((".json", ".jsonl", ".ndjson"))
EXCEL_SUFFIXES = frozenset((".xlsx", ".xls"))
_UTF8_BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class Records:
    """A file's records as read (``frame``) and how it was read (``how``, for the user)."""

    frame: pl.DataFrame
    how: str


class _NotOneValueError(ValueError):
    """A JSON value that is an object or a list where one value was expected."""


def json_cell(value: Any, *, tags: bool) -> Any:
    """One JSON value as the text CSV would hold (a list of strings for a tags field).

    Raises :class:`ValueError` for an object, or a list outside a tags field.
    """
    if tags and isinstance(value, str):
        return [t for t in (part.strip() for part in value.split(";")) if t]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if tags and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    kind = "an object" if isinstance(value, dict) else "a list"
    wanted = "a list of tag strings" if tags else "one value, not an object or a list"
    raise _NotOneValueError(
        f"expected {wanted}, found {kind} {_clip(json.dumps(value, ensure_ascii=False))}"
    )


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def read_records(
    path: Path, *, encoding: str | None = None, tag_fields: Collection[str] = ("tags",)
) -> Records:
    """``path`` (Parquet, CSV, JSON or Excel) as it is; ``encoding`` applies to CSV only."""
    if not path.is_file():
        raise InputFileError(f"{path} does not exist or is not a file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return Records(pl.read_parquet(path), "Parquet")
        if suffix == ".csv":
            return _read_csv(path, encoding)
        if suffix in JSON_SUFFIXES:
            return Records(_read_json(path, frozenset(tag_fields)), "JSON")
        if suffix in EXCEL_SUFFIXES:
            return _read_excel(path)
    except InputFileError:
        raise
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputFileError(f"cannot read {path}: {_first_line(exc)}") from exc
    raise InputFileError(
        f"{path}: expected a .parquet, .csv, .json, .jsonl, .ndjson, .xlsx or .xls file"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_csv(path: Path, encoding: str | None) -> Records:
    if encoding is None:
        # polars checks the values' UTF-8 but reads an undecodable header leniently, so the
        # file's head (the header and more) is checked here and the rest by polars.
        if _starts_as_utf8(path):
            with path.open("rb") as head:
                bom = head.read(len(_UTF8_BOM)) == _UTF8_BOM
            try:
                frame = pl.read_csv(path, infer_schema=False)
            except pl.exceptions.ComputeError as exc:
                if "utf-8" not in str(exc).lower():
                    raise
            else:
                return Records(frame, "CSV, UTF-8 with BOM" if bom else "CSV, UTF-8")
        encoding, named = "gb18030", "CSV, GB18030 (it is not UTF-8)"
    else:
        try:
            named = f"CSV, {codecs.lookup(encoding).name.upper()}"
        except LookupError:
            raise InputFileError(
                f"unknown encoding {encoding!r}; expected e.g. utf-8, gbk, gb18030 or big5"
            ) from None
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputFileError(
            f"cannot read {path} as {encoding}: byte 0x{data[exc.start]:02x} on line {line} "
            f"is not {encoding}; give the file's encoding with --encoding (e.g. utf-8, gbk, "
            "big5)"
        ) from None
    text = text.removeprefix("\ufeff")
    return Records(pl.read_csv(io.StringIO(text), infer_schema=False), named)


def _starts_as_utf8(path: Path, size: int = 1 << 20) -> bool:
    with path.open("rb") as stream:
        head = stream.read(size)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < size)
    except UnicodeDecodeError:
        return False
    return True


def _read_excel(path: Path) -> Records:
    import fastexcel

    try:
        sheets = fastexcel.read_excel(str(path)).sheet_names
        if not sheets:
            raise InputFileError(f"{path} has no sheet")
        try:
            # Every cell as text, as CSV's are: the schema types them (an id of digits stays
            # whole; an Excel date reads YYYY-MM-DD 00:00:00).
            frame = pl.read_excel(path, engine="calamine", sheet_id=1, infer_schema_length=0)
        except pl.exceptions.NoDataError:
            frame = pl.DataFrame()
    except fastexcel.FastExcelError as exc:
        raise InputFileError(
            f"cannot read {path} as an Excel workbook ({_first_line(exc)}); save it again "
            "from Excel as .xlsx, or export it as CSV"
        ) from None
    how = f"Excel, sheet {sheets[0]!r}"
    if len(sheets) > 1:
        how += f"; other sheets not read: {', '.join(repr(s) for s in sheets[1:])}"
    return Records(frame, how)


def _json_records(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8-sig").strip()
        if text.startswith("["):
            records = json.loads(text)
            return records if isinstance(records, list) else [records]
        if text.startswith("{"):
            try:
                return [json.loads(text)]  # one record, perhaps over several lines
            except json.JSONDecodeError:
                pass
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputFileError(
                        f"cannot read {path} line {number}: {exc.msg} at column {exc.colno}; "
                        "expected a JSON array of records or one JSON object per line"
                    ) from None
        return records
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"cannot read {path}: {exc.msg} at line {exc.lineno}, column {exc.colno}; "
            "expected a JSON array of records or one JSON object per line (is it cut short?)"
        ) from None
    except UnicodeDecodeError:
        raise InputFileError(f"cannot read {path}: JSON must be UTF-8") from None


def _read_json(path: Path, tag_fields: frozenset[str]) -> pl.DataFrame:
    records = _json_records(path)
    problems: list[Problem] = []
    total = 0
    columns: dict[str, list[Any]] = {}

    def report(row: int, field: str | None, message: str) -> None:
        nonlocal total
        total += 1
        if len(problems) < MAX_REPORTED:
            problems.append(Problem(str(path), row, field, message))

    for row, record in enumerate(records, start=1):
        if isinstance(record, dict):
            for name, value in record.items():
                try:
                    cell = json_cell(value, tags=name in tag_fields)
                except _NotOneValueError as exc:
                    report(row, str(name), str(exc))
                    cell = None
                columns.setdefault(str(name), [None] * (row - 1)).append(cell)
        else:
            shown = json.dumps(record, ensure_ascii=False)
            report(row, None, "expected a JSON object of field values, e.g. "
                   f'{{"person_id": "…"}}, found {_clip(shown)}')  # fmt: skip
        for values in columns.values():
            if len(values) < row:
                values.append(None)
    if total:
        raise invalid_records(problems, total)
    return pl.DataFrame(
        [
            pl.Series(name, values, dtype=pl.List(pl.String) if name in tag_fields else pl.String)
            for name, values in columns.items()
        ]
    )
