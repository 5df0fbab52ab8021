"""Which files of a population directory are read, which are ignored, and which must be there.

A population directory holds ``residents.*``, ``enterprises.*`` and ``events.*`` in any of the
formats departments send (Parquet, CSV, JSON lines or arrays, Excel), and may hold the links
``households.*`` and ``employments.*`` (read after the records they link).  This module decides, by
name alone, which file holds which kind of record, which files are ignored and why, and whether
the files an audience needs are present: a population without its residents file would make
every resident look gone, and a run on it would revoke their benefits.

>>> sorted(READABLE_SUFFIXES)[:4]
['.csv', '.json', '.jsonl', '.ndjson']
>>> entity_of(Path("residents.2026.xlsx")), entity_of(Path("households.parquet"))
('resident', 'household')
>>> entity_of(Path("families.csv")) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputFileError

__all__ = [
    "AUDIENCES",
    "ENTITY_BY_STEM",
    "READABLE_SUFFIXES",
    "IgnoredFile",
    "PopulationFilesError",
    "entity_of",
    "population_files",
    "require_population_files",
]

ENTITY_BY_STEM = {
    "residents": "resident",
    "enterprises": "enterprise",
    "events": "event",
    "households": "household",
    "employments": "employment",
}
READABLE_SUFFIXES = frozenset((".parquet", ".csv", ".json", ".jsonl", ".ndjson", ".xlsx", ".xls"))
AUDIENCES = ("resident", "enterprise")
_STEM_OF = {entity: stem for stem, entity in ENTITY_BY_STEM.items()}


class PopulationFilesError(InputFileError):
    """A population directory lacks a file its audience needs: refused before anything runs.

    Exit code 2: the command was asked for an audience its directory cannot serve.
    """

    exit_code = 2


@dataclass(frozen=True)
class IgnoredFile:
    """A file of a population directory that is not read, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"ignored {self.path.name}: {self.reason}"


def entity_of(path: Path) -> str | None:
    """The kind of record a file holds, by its name (``residents.*`` …), or ``None``."""
    return ENTITY_BY_STEM.get(path.name.split(".")[0])


def population_files(
    directory: Path, suffixes: Iterable[str] = READABLE_SUFFIXES
) -> tuple[list[tuple[Path, str]], list[IgnoredFile]]:
    """The (file, entity) pairs of ``directory`` to read, residents first, and the ignored files.

    Office lock files (``~$residents.xlsx``), hidden files and directories are passed over
    silently.
    """
    if not directory.is_dir():
        raise InputFileError(
            f"population directory {directory} does not exist or is not a directory; make one "
            "with `zhida population generate --out DIR` or put residents.*, enterprises.* and "
            "events.* files in it (and households.*, employments.* for the links)"
        )
    allowed = frozenset(s.lower() for s in suffixes)
    shown = ", ".join(sorted(allowed))
    read: list[tuple[Path, str]] = []
    ignored: list[IgnoredFile] = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith((".", "~$")) or path.is_dir():
            continue
        entity = entity_of(path)
        if entity is None:
            ignored.append(
                IgnoredFile(
                    path,
                    "not named residents.*, enterprises.*, events.*, households.* or employments.*",
                )
            )
        elif path.suffix.lower() not in allowed:
            ignored.append(IgnoredFile(path, f"not a readable format (expected {shown})"))
        else:
            read.append((path, entity))
    order = list(ENTITY_BY_STEM.values())
    read.sort(key=lambda pair: (order.index(pair[1]), pair[0].name))
    return read, ignored


def require_population_files(
    directory: Path,
    audiences: Iterable[str] = AUDIENCES,
    suffixes: Iterable[str] = READABLE_SUFFIXES,
) -> None:
    """Refuse ``directory`` unless it holds a file for every audience (resident, enterprise).

    A directory without ``residents.*`` would make every resident look gone; whoever means to
    handle enterprises only says so (``--audience enterprise``).  Raises
    :class:`PopulationFilesError` (exit 2) naming the missing files and the way out.
    """
    wanted = list(dict.fromkeys(audiences))
    unknown = [a for a in wanted if a not in AUDIENCES]
    if unknown:
        raise PopulationFilesError(
            f"unknown audience {unknown[0]!r}; expected one of {', '.join(AUDIENCES)}"
        )
    found = {entity for _, entity in population_files(directory, suffixes)[0]}
    missing = [a for a in wanted if a not in found]
    if not missing:
        return
    allowed = sorted(s.lower() for s in suffixes)
    kinds = allowed[0] if len(allowed) == 1 else ".*"
    files = " or ".join(f"{_STEM_OF[a]}{kinds}" for a in missing)
    others = [a for a in AUDIENCES if a not in missing and a in found]
    way_out = (
        f"add {'them' if len(missing) > 1 else 'it'}, or pass --audience {others[0]} if only "
        f"{_STEM_OF[others[0]]} are meant"
        if others
        else f"add {'them' if len(missing) > 1 else 'it'}"
    )
    raise PopulationFilesError(
        f"{directory} has no {files} file: every {' and '.join(missing)} would count as "
        f"gone; {way_out}"
    )
