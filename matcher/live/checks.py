"""Checking an ingested record or service event against the profile schema, before anything
is stored: every bad field is named in one :class:`IngestError`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from core.errors import ValidationError
from profiles.schema import Entity
from profiles.validation import conform

__all__ = ["FieldProblem", "IngestError", "check_subject_id", "conformed_record"]


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


_MAX_ID = 64  # the length of subject ids in the match, change and outbox tables


def check_subject_id(subject_id: str, field: str, what: str) -> None:
    if not 0 < len(subject_id) <= _MAX_ID:
        raise IngestError(
            what,
            [FieldProblem(field, f"{field}: expected 1 to {_MAX_ID} characters, found "
                                 f"{len(subject_id)}")],
            1,
        )  # fmt: skip
