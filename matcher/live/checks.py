"""Checking an ingested record or service event against the profile schema, before anything
is stored: every bad field is named in one :class:`IngestError`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from core.errors import ValidationError
from profiles.schema import Entity
from profiles.validation import conform

__all__ = [
    "FieldProblem",
    "IngestError",
    "check_subject_id",
    "conformed_record",
    "conformed_records",
]


@dataclass(frozen=True)
class FieldProblem:
    field: str | None
    detail: str
    line: int | None = None  # the error shape's positions (none for a JSON record)
    col: int | None = None


class IngestError(ValidationError):
    """A record or event that does not fit the schema; ``problems`` names each bad field."""

    def __init__(self, what: str, problems: list[FieldProblem], total: int) -> None:
        shown = "; ".join(p.detail for p in problems[:3])
        more = f" (and {total - 3} more)" if total > 3 else ""
        message = f"the {what} was not stored: {shown}{more}; fix the fields and resend"
        super().__init__(message, problems=problems, total=total)


def conformed_record(record: Mapping[str, Any], entity: Entity, what: str) -> dict[str, Any]:
    """``record`` checked and typed by the schema (one row), or :class:`IngestError`."""
    try:
        frame = pl.DataFrame([dict(record)], infer_schema_length=None)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        raise IngestError(
            what, [FieldProblem(None, f"not a flat JSON object of field values ({exc})")], 1
        ) from exc
    try:
        row: dict[str, Any] = conform(frame, entity, source=what).row(0, named=True)
    except ValidationError as err:  # the records' problems, as the schema check found them
        problems = [FieldProblem(p.field, f"{p.field or what}: {p.message}") for p in err.problems]
        raise IngestError(what, problems, err.total) from err
    return row


def conformed_records(
    records: Sequence[object], entity: Entity, what: str
) -> list[dict[str, Any] | IngestError]:
    """Each of ``records`` checked and typed as :func:`conformed_record` would, or its error.

    Records with the same fields are checked together, as one frame (a batch of a thousand
    costs about what one record does); a group with any problem is checked record by record,
    so each error names its own record's fields and the good ones pass.

    >>> from profiles.schema import load_schema
    >>> out = conformed_records([{"subject_id": "P1", "subject_type": "resident",
    ...     "item_code": "birth_registration", "occurred_at": "2026-05-01T09:00:00"}, 42],
    ...     load_schema().event, "event")
    >>> out[0]["occurred_at"], type(out[1]).__name__
    (datetime.datetime(2026, 5, 1, 9, 0), 'IngestError')
    """
    out: list[dict[str, Any] | IngestError] = [
        IngestError(what, [FieldProblem(None, f"expected a JSON object, found {r!r}"[:200])], 1)
        for r in records
    ]
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, record in enumerate(records):
        if isinstance(record, Mapping):
            groups.setdefault(tuple(sorted(map(str, record))), []).append(i)
    for indices in groups.values():
        rows: list[dict[str, Any]] | None = None
        try:
            frame = pl.DataFrame([dict(records[i]) for i in indices], infer_schema_length=None)  # type: ignore[call-overload]
            rows = conform(frame, entity, source=what).to_dicts()
        except (pl.exceptions.PolarsError, TypeError, ValueError):
            rows = None  # a bad record among them (ValidationError is a ValueError)
        for n, i in enumerate(indices):
            if rows is not None:
                out[i] = rows[n]
                continue
            try:
                out[i] = conformed_record(records[i], entity, what)  # type: ignore[arg-type]
            except IngestError as err:
                out[i] = err
    return out


_MAX_ID = 64  # the length of subject ids in the match, change and outbox tables


def check_subject_id(subject_id: str, field: str, what: str) -> None:
    if not 0 < len(subject_id) <= _MAX_ID:
        raise IngestError(
            what,
            [FieldProblem(field, f"{field}: expected 1 to {_MAX_ID} characters, found "
                                 f"{len(subject_id)}")],
            1,
        )  # fmt: skip
