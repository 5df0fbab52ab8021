"""One error tree for the whole of Zhida.

Every error a user can cause derives from :class:`ZhidaError` and from the matching built-in
exception, so callers may catch either.  Messages name the input, what was expected, and how to
fix it; the CLI prints them on one line and the API maps them to status codes in one place.

>>> err = ValidationError("residents.parquet row 3, field age: expected an integer, found 'x'")
>>> isinstance(err, ValueError), err.exit_code
(True, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ConfigurationError",
    "DatabaseError",
    "DeliveryError",
    "InputFileError",
    "NotFoundError",
    "RuleError",
    "SchemaError",
    "ValidationError",
    "ZhidaError",
]


class ZhidaError(Exception):
    """Root of every error Zhida raises on purpose.

    ``exit_code`` is what the CLI exits with: 1 for bad input the user can fix, 2 for a problem
    with the environment (configuration, a server that cannot be reached).
    """

    exit_code: int = 1
    http_status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(ZhidaError, RuntimeError):
    """A setting is missing or malformed (e.g. ``ZHIDA_DATABASE_URL``)."""

    exit_code = 2
    http_status = 500


class DatabaseError(ZhidaError, RuntimeError):
    """The database cannot be reached or refused an operation."""

    exit_code = 2
    http_status = 503


class SchemaError(ZhidaError, ValueError):
    """The profile schema (or an extension of it) is malformed."""


class ValidationError(ZhidaError, ValueError):
    """Input that does not fit what was expected: records against the schema, a request's
    fields, a model's files.  A check that finds several bad records or fields lists them in
    ``problems`` (perhaps only the first of them) and counts them all in ``total``.

    >>> err = ValidationError("2 problems: …", problems=["row 2: …", "row 5: …"], total=7)
    >>> err.problems, err.total, err.exit_code
    (['row 2: …', 'row 5: …'], 7, 1)
    """

    http_status = 422
    problems: Sequence[Any] = ()
    total: int = 0

    def __init__(
        self, message: str, *, problems: Sequence[Any] = (), total: int | None = None
    ) -> None:
        super().__init__(message)
        if problems:  # a subclass may have set its own before calling this
            self.problems = list(problems)
        self.total = len(self.problems) if total is None else total


class InputFileError(ZhidaError, OSError):
    """A file or directory given by the user is missing or unreadable."""


class NotFoundError(ZhidaError, LookupError):
    """A named thing (policy, subject, run) does not exist."""

    http_status = 404


class RuleError(ZhidaError, ValueError):
    """A policy or rule is malformed; subclasses in :mod:`rules` carry positions."""

    http_status = 422


class DeliveryError(ZhidaError, RuntimeError):
    """A message could not be delivered through a channel."""

    http_status = 502
