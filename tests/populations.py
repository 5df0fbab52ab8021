"""Synthetic populations for tests, each generated once per test session.

The ``populations`` fixture (tests/conftest.py) is a :class:`Populations` over the session's
temporary dir; under pytest-xdist the workers share it, so a population is generated once per run.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

__all__ = ["Populations"]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a lock file) across processes."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _listing(directory: Path) -> dict[str, list[int]]:
    """Each file's size and modification time, to tell that nobody wrote into ``directory``."""
    return {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(directory.iterdir())}


@dataclass(frozen=True)
class Populations:
    """Synthetic populations, each generated once per test session (shared by xdist workers).

    ``populations(residents, enterprises, seed, as_of=…)`` is the directory of that population
    (``residents.parquet``, ``enterprises.parquet``, ``events.parquet``), shared: read it, never
    write into it. ``populations.copy(…, to=dir)`` is a copy of one's own to write into.
    The same arguments give the same bytes as ``zhida population generate``.
    """

    root: Path

    def __call__(
        self,
        residents: int,
        enterprises: int,
        seed: int,
        *,
        as_of: date,
        unknown_scale: float = 1.0,
    ) -> Path:
        key = f"{residents}r-{enterprises}e-seed{seed}-{as_of.isoformat()}-u{unknown_scale:g}"
        target = self.root / key
        manifest = self.root / f"{key}.json"
        with _locked(self.root / f"{key}.lock"):
            if not target.is_dir():
                from simulations.population import GenerationSpec, generate_population

                scratch = self.root / f"{key}.partial"
                shutil.rmtree(scratch, ignore_errors=True)
                spec = GenerationSpec(
                    residents, enterprises, seed, as_of, unknown_scale=unknown_scale
                )
                generate_population(spec, scratch)
                manifest.write_text(json.dumps(_listing(scratch)))
                scratch.rename(target)
        if _listing(target) != json.loads(manifest.read_text()):
            pytest.fail(
                f"the shared population {key} was written into by a test; "
                "a test that writes into its population takes populations.copy(..., to=dir)"
            )
        return target

    def copy(
        self,
        residents: int,
        enterprises: int,
        seed: int,
        *,
        as_of: date,
        to: Path,
        unknown_scale: float = 1.0,
    ) -> Path:
        """A copy of that population in ``to`` (which must not exist yet), to write into."""
        shared = self(residents, enterprises, seed, as_of=as_of, unknown_scale=unknown_scale)
        shutil.copytree(shared, to)
        return to
