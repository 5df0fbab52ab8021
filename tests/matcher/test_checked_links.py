"""A population that passed the link checks, unchanged, is not checked again; changed, it is."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

import profiles.link_checks
from core.errors import ValidationError
from matcher.population import scan_population
from profiles.schema import load_schema

SCHEMA = load_schema()


def write(directory: Path, relations: list[str]) -> Path:
    directory.mkdir(exist_ok=True)
    pl.DataFrame(
        {
            "person_id": ["dad", "mum", "gran"],
            "household_id": ["h1", "h1", "h2"],
            "relation_to_head": relations,
            "birth_date": [date(1985, 1, 1), date(1987, 1, 1), date(1940, 1, 1)],
        }
    ).write_parquet(directory / "residents.parquet")
    pl.DataFrame({"household_id": ["h1", "h2"]}).write_parquet(directory / "households.parquet")
    return directory


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources each real link check ran on."""
    ran: list[str] = []
    real = profiles.link_checks.check_links

    def counted(frames, sources, **kw):
        ran.append(sources["resident"])
        return real(frames, sources, **kw)

    monkeypatch.setattr(profiles.link_checks, "check_links", counted)
    return ran


def test_unchanged_files_that_passed_are_checked_once(tmp_path: Path, checks: list[str]) -> None:
    directory = write(tmp_path / "pop", ["head", "spouse", "head"])
    cache = tmp_path / "data" / "link-checks.json"
    for _ in range(3):
        assert sorted(scan_population(directory, SCHEMA, checked=cache)) == [
            "household",
            "resident",
        ]
    assert len(checks) == 1


def test_a_file_changed_after_passing_is_checked_and_refused(
    tmp_path: Path, checks: list[str]
) -> None:
    directory = write(tmp_path / "pop", ["head", "spouse", "head"])
    cache = tmp_path / "link-checks.json"
    scan_population(directory, SCHEMA, checked=cache)
    write(directory, ["head", "head", "head"])  # h1 now has two heads
    for _ in range(2):  # a refusal is never remembered as a pass
        with pytest.raises(ValidationError) as info:
            scan_population(directory, SCHEMA, checked=cache)
        assert info.value.problems[0].field == "relation_to_head"
    assert len(checks) == 3


def test_without_a_cache_every_scan_checks(tmp_path: Path, checks: list[str]) -> None:
    directory = write(tmp_path / "pop", ["head", "spouse", "head"])
    scan_population(directory, SCHEMA)
    scan_population(directory, SCHEMA)
    assert len(checks) == 2
