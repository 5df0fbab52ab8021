from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from api.cli import main
from matcher.batch import MATCH_SCHEMA
from matcher.runs import population_snapshot, run_diff

CATALOG = str(Path(__file__).resolve().parents[2] / "rules" / "catalog")


def pairs(rows: list[tuple[str, str, str, int | None]]) -> pl.LazyFrame:
    data = [(s, "resident", p, st, Decimal(b) if b is not None else None) for s, p, st, b in rows]
    return pl.LazyFrame(data, schema=MATCH_SCHEMA, orient="row")


def test_every_kind_of_change_is_named() -> None:
    old = pairs(
        [
            ("a", "p", "maybe", None),
            ("b", "p", "eligible", 100),
            ("c", "p", "eligible", 100),
            ("d", "p", "eligible", 100),
            ("f", "p", "eligible", 100),
        ]
    )
    new = pairs(
        [
            ("a", "p", "eligible", 100),
            ("b", "p", "maybe", None),
            ("c", "p", "eligible", 120),
            ("e", "p", "eligible", 100),
            ("g", "p", "maybe", None),
            ("f", "p", "eligible", 100),
        ]
    )
    changes = dict(run_diff(old, new).select("subject_id", "change").collect().rows())
    assert changes == {
        "a": "maybe_to_eligible",
        "b": "eligible_to_maybe",
        "c": "benefit_changed",
        "d": "no_longer_eligible",
        "e": "newly_eligible",
        "g": "newly_maybe",
    }


def test_match_records_runs_and_diffs_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pop = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "3000", "--enterprises", "100"]
    assert main([*argv, "--out", str(pop), "--as-of", "2026-06-30"]) == 0
    base = ["match", "--population", str(pop), "--policies", CATALOG]
    assert main([*base, "--as-of", "2026-01-01", "--out", str(tmp_path / "1.parquet")]) == 0
    assert main([*base, "--as-of", "2026-06-30", "--out", str(tmp_path / "2.parquet")]) == 0
    capsys.readouterr()
    assert main(["runs", "list"]) == 0
    listed = capsys.readouterr().out
    assert "run 1  as of 2026-01-01" in listed and "previous 1" in listed
    out = tmp_path / "changes.parquet"
    assert main(["runs", "diff", "--out", str(out)]) == 0
    changes = pl.read_parquet(out)
    assert changes.height > 0
    assert "newly_eligible" in set(changes["change"].cast(pl.String))
    # The file leaves the system: an audited data export naming the run, its rows and hash.
    import hashlib

    from api.app.audit import AuditLog
    from core.db import get_engine

    (entry,) = [e for e in AuditLog(get_engine()).entries() if e.action == "data.export"]
    assert (entry.entity_type, entry.entity_id, entry.role) == ("match_run", "2", "cli")
    assert entry.details["rows"] == changes.height
    assert entry.details["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


def test_a_run_records_the_rule_version_of_every_policy_it_matched(tmp_path: Path) -> None:
    from datetime import date

    from core.db import get_engine
    from core.settings import get_settings
    from matcher.runs import RunStore
    from profiles.schema import load_schema
    from rules.loader import load_catalog

    pop = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "500", "--enterprises", "50"]
    assert main([*argv, "--out", str(pop), "--as-of", "2026-06-30"]) == 0
    out = tmp_path / "m.parquet"
    argv = ["match", "--population", str(pop), "--policies", CATALOG, "--as-of", "2026-06-30"]
    assert main([*argv, "--out", str(out)]) == 0
    store = RunStore(get_engine(), get_settings().data_dir)
    latest = store.latest()
    assert latest is not None
    hashes = store.rule_hashes(latest.run_id)
    in_force = load_catalog([Path(CATALOG)], load_schema()).in_force(date(2026, 6, 30))
    assert hashes == {p.id: p.content_hash for p in in_force}
    assert set(pl.read_parquet(out)["policy_id"]) <= set(hashes)


def test_diff_of_the_first_run_says_there_is_nothing_to_compare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "diff"]) == 1
    assert "no runs yet" in capsys.readouterr().err


def _population(directory: Path) -> Path:
    directory.mkdir()
    pl.DataFrame({"person_id": ["a", "b"]}).write_parquet(directory / "residents.parquet")
    pl.DataFrame({"subject_id": ["a"]}).write_parquet(directory / "events.parquet")
    return directory


def test_a_cached_snapshot_reads_no_file_again_and_equals_the_uncached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matcher.runs

    pop, cache = _population(tmp_path / "pop"), tmp_path / "data" / "digests.json"
    first = population_snapshot(pop, cache=cache)
    read: list[Path] = []

    def digest(path: Path) -> str:
        read.append(path)
        return "00"

    monkeypatch.setattr(matcher.runs, "file_digest", digest)
    assert population_snapshot(pop, cache=cache) == first
    assert read == []
    monkeypatch.undo()
    assert population_snapshot(pop) == first
    assert sorted(p.name for p in pop.iterdir()) == ["events.parquet", "residents.parquet"]


def test_a_rewritten_file_changes_the_snapshot_despite_the_cache(tmp_path: Path) -> None:
    import os

    pop, cache = _population(tmp_path / "pop"), tmp_path / "digests.json"
    first = population_snapshot(pop, cache=cache)
    path = pop / "residents.parquet"
    stat = path.stat()
    pl.DataFrame({"person_id": ["a", "c"]}).write_parquet(path)  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old mtime
    assert path.stat().st_size == stat.st_size
    assert population_snapshot(pop, cache=cache) != first


def test_an_unwritable_cache_only_makes_the_snapshot_slower(tmp_path: Path) -> None:
    pop = _population(tmp_path / "pop")
    (tmp_path / "file").write_text("")
    assert population_snapshot(pop, cache=tmp_path / "file" / "d.json") == population_snapshot(pop)
