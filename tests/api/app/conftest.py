"""The API tests' world: see world.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.api.app.world import World, make_world
from tests.populations import Populations


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    yield from make_world(sqlite_url, tmp_path)


@pytest.fixture
def pg_world(postgres_url: str, tmp_path: Path) -> Iterator[World]:
    yield from make_world(postgres_url, tmp_path)


@pytest.fixture(scope="session")
def served_population(populations: Populations) -> Path:
    """The population the analyst pages' server is started with: 3,000 residents and 50 firms
    (seed 11, as of 2026-03-01), generated once."""
    return populations(3000, 50, seed=11, as_of=date(2026, 3, 1))


@pytest.fixture
def served_world(sqlite_url: str, tmp_path: Path, served_population: Path) -> Iterator[World]:
    """A world whose server has :func:`served_population` (``zhida serve --population``)."""
    yield from make_world(sqlite_url, tmp_path, served_population)
