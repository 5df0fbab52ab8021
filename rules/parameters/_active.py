"""Which library rules read: the built-in one, or one a caller puts in place (a reform).

Compiling and evaluating a rule read the library in place (:func:`active`); a reform runs its
side of a simulation inside ``with using(reformed):``, so the same rules compile to other
amounts without any rule text changing.

>>> from datetime import date
>>> base = active()
>>> reform = base.with_override("dibao_standard=1500", on=date(2026, 1, 1))
>>> with using(reform):
...     active().amount("dibao_standard", date(2026, 1, 1))
Decimal('1500')
>>> active().amount("dibao_standard", date(2026, 1, 1))
Decimal('1450')
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from rules.parameters._library import Library
from rules.parameters._read import read_library

__all__ = ["LIBRARY_DIR", "active", "builtin_library", "using"]

LIBRARY_DIR = Path(__file__).parent / "library"

_IN_PLACE: ContextVar[Library | None] = ContextVar("zhida_parameters", default=None)


def builtin_library() -> Library:
    """The library shipped with Zhida (``rules/parameters/library``) and a deployment's
    own parameter files beside it (``ZHIDA_PARAMETERS``, :mod:`core.settings`), read once per
    value of the variable; a name defined twice is refused."""
    # Looked up for every parameter a rule evaluates: the variable's text is the cache key,
    # the settings are parsed only when it changes.
    return _read(os.environ.get("ZHIDA_PARAMETERS", ""))


@cache
def _read(variable: str) -> Library:
    from core.settings import get_settings

    return read_library((LIBRARY_DIR, *get_settings().parameter_extensions))


def active() -> Library:
    """The library in place: the one of the innermost :func:`using`, else the built-in one."""
    library = _IN_PLACE.get()
    return library if library is not None else builtin_library()


@contextmanager
def using(library: Library) -> Iterator[Library]:
    """Read ``library`` instead of the built-in one inside the block."""
    token = _IN_PLACE.set(library)
    try:
        yield library
    finally:
        _IN_PLACE.reset(token)
