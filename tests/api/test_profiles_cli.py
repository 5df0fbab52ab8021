from __future__ import annotations

from pathlib import Path

import pytest

from api.cli import main


def test_load_a_population_twice_then_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pop"
    argv = ["population", "generate", "--residents", "300", "--enterprises", "30"]
    assert main([*argv, "--out", str(out), "--as-of", "2026-01-01"]) == 0
    assert main(["profiles", "load", str(out)]) == 0
    assert main(["profiles", "load", str(out)]) == 0
    from core.db import get_engine
    from profiles.store import ProfileStore

    store = ProfileStore(get_engine())
    assert store.count("resident") == 300
    assert store.count("enterprise") == 30
    assert "loaded 300 resident records" in capsys.readouterr().out


def test_validate_lists_problems_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "residents.csv"
    path.write_text("person_id,gender\np1,femail\n", encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["profiles", "validate", str(path)])
    assert info.value.code == 1
    assert "row 1, field gender: expected one of male, female" in capsys.readouterr().out


def test_a_bad_file_loads_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "residents.csv").write_text("person_id,gender\np1,male\np2,x\n", "utf-8")
    assert main(["profiles", "load", str(tmp_path)]) == 1
    assert "field gender" in capsys.readouterr().err
    from core.db import get_engine
    from profiles.store import ProfileStore

    assert ProfileStore(get_engine()).count("resident") == 0
