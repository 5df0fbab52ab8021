"""The API tests' world: see world.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from simulations.population import GenerationSpec, generate_population
from tests.api.app.world import World, make_world


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    yield from make_world(sqlite_url, tmp_path)


@pytest.fixture
def pg_world(postgres_url: str, tmp_path: Path) -> Iterator[World]:
    yield from make_world(postgres_url, tmp_path)


@pytest.fixture(scope="session")
def served_population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The population the analyst pages' server is started with: 3,000 residents and 50 firms
    (seed 11, as of 2026-03-01), generated once."""
    out = tmp_path_factory.mktemp("served-pop")
    generate_population(GenerationSpec(3000, 50, seed=11, as_of=date(2026, 3, 1)), out)
    return out


@pytest.fixture
def served_world(sqlite_url: str, tmp_path: Path, served_population: Path) -> Iterator[World]:
    """A world whose server has :func:`served_population` (``zhida serve --population``)."""
    yield from make_world(sqlite_url, tmp_path, served_population)
