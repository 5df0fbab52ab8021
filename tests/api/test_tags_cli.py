from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from api.cli import main

CATALOG = str(Path(__file__).resolve().parents[2] / "rules" / "catalog")


def test_compute_tags_and_match_with_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pop = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "4000", "--enterprises", "400"]
    assert main([*argv, "--out", str(pop), "--as-of", "2026-06-30"]) == 0
    assert main(["tags", "compute", "--population", str(pop), "--as-of", "2026-06-30"]) == 0
    tags = pl.read_parquet(pop / "tags.parquet")
    assert tags.height == 4400
    assert "new_parent" in set(tags["tags"].explode().drop_nulls())
    with_tags, without = tmp_path / "a.parquet", tmp_path / "b.parquet"
    base = ["match", "--population", str(pop), "--policies", CATALOG, "--as-of", "2026-06-30"]
    assert main([*base, "--out", str(with_tags)]) == 0
    assert main([*base, "--no-tags", "--out", str(without)]) == 0
    tagged = pl.read_parquet(with_tags).filter(pl.col("policy_id") == "bj-maternity-allowance")
    untagged = pl.read_parquet(without).filter(pl.col("policy_id") == "bj-maternity-allowance")
    assert tagged.height > 0 and untagged.height == 0


def test_validate_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tags", "validate"]) == 0
    assert "tags OK" in capsys.readouterr().out
    assert main(["tags", "list"]) == 0
    assert "new_parent" in capsys.readouterr().out
