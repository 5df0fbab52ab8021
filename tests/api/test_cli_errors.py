from __future__ import annotations

import pytest

from api.cli import main


def test_a_zhida_error_is_one_line_and_exit_code_two_for_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZHIDA_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/x")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zhida: error: cannot reach the database")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err
