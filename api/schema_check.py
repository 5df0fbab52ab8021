"""Whether the migrations make exactly the tables the code declares (``zhida db check``).

The tables are declared in the packages that query them (``notifier/tables.py``,
``rules/store.py``, …) and created only by the migrations in ``core/migrations/versions``, which
are written out as the tables were at their revision.  This module gathers every declaration —
each module of the packages that calls ``sa.Table(`` at module level, found by reading the
sources, plus the profile tables of the core schema — and compares them with a database through
Alembic's autogenerate comparison: columns, types, nullability, keys, indexes and unique
constraints.  It lives in ``api/`` because it is the one place that may import every package.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

__all__ = [
    "PACKAGES",
    "UNDECLARED",
    "declared_metadata",
    "describe",
    "differences",
    "table_modules",
]

PACKAGES: Final = ("core", "profiles", "rules", "matcher", "notifier", "simulations", "api")
# Tables a migration makes that no module declares, each with the reason.
UNDECLARED: Final = {
    "deployment": "made by 0001 to record which deployment a database belongs to; no code "
    "reads or writes it yet",
}
_ROOT = Path(__file__).resolve().parent.parent
_TABLE_CALL = re.compile(r"^\w+\s*(?::[^=]+)?=\s*sa\.Table\(", re.MULTILINE)


def table_modules(root: Path = _ROOT) -> list[str]:
    """The modules of the packages that declare a table at module level, sorted."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if "migrations" in relative.parts:
                continue
            if _TABLE_CALL.search(path.read_text(encoding="utf-8")):
                found.append(".".join(relative.with_suffix("").parts))
    return sorted(found)


def declared_metadata(modules: Iterable[str] | None = None) -> sa.MetaData:
    """One MetaData holding a copy of every declared table (profiles: the core schema's)."""
    from profiles.schema import load_schema
    from profiles.tables import profile_tables

    metadata = sa.MetaData()
    profile_tables(load_schema(extensions=()), metadata)
    for name in table_modules() if modules is None else modules:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, sa.Table) and value.name not in metadata.tables:
                value.to_metadata(metadata)
    return metadata


def differences(engine: Engine, metadata: sa.MetaData | None = None) -> list[str]:
    """What the database at ``engine`` lacks or has beyond ``metadata``, one line each."""
    metadata = metadata if metadata is not None else declared_metadata()

    def include(name: str | None, kind: str, _parent: Any) -> bool:
        return not (kind == "table" and (name in UNDECLARED or name == "alembic_version"))

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include}
        )
        diff = compare_metadata(context, metadata)
    return sorted(describe(entry) for entry in diff)


def describe(entry: Any) -> str:
    """One line for one autogenerate difference (a tuple, or a list of column modifications).

    >>> describe(("remove_table", sa.Table("old", sa.MetaData())))
    'table old is in the database but declared nowhere'
    >>> describe(("add_column", None, "outbox", sa.Column("tries", sa.Integer)))
    'column outbox.tries is declared but missing from the database'
    """
    if isinstance(entry, list):
        return "; ".join(describe(e) for e in entry)
    kind = entry[0]
    if kind == "add_table":
        return f"table {entry[1].name} is declared but missing from the database"
    if kind == "remove_table":
        return f"table {entry[1].name} is in the database but declared nowhere"
    if kind == "add_column":
        return f"column {entry[2]}.{entry[3].name} is declared but missing from the database"
    if kind == "remove_column":
        return f"column {entry[2]}.{entry[3].name} is in the database but not declared"
    if kind.startswith("modify_"):
        _, _, table, column, _, old, new = entry
        what = kind.removeprefix("modify_")
        return f"column {table}.{column}: {what} is {old!r} in the database, {new!r} declared"
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        verb, thing = kind.split("_", 1)
        item = entry[1]
        where = "declared but missing from the database" if verb == "add" else "not declared"
        columns = ", ".join(c.name for c in item.columns)
        return f"{thing} {item.name or '(unnamed)'} on {item.table.name}({columns}) is {where}"
    if kind in ("add_fk", "remove_fk"):
        fk = entry[1]
        where = "declared but missing from the database" if kind == "add_fk" else "not declared"
        columns = ", ".join(c.name for c in fk.columns)
        return f"foreign key on {fk.table.name}({columns}) is {where}"
    return repr(entry)
