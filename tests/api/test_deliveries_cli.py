"""``zhida worker`` and ``zhida deliveries``: clear one-line errors, and the operator's loop."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from api.cli import main


def test_worker_refuses_without_redis(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--processes", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zhida: error: zhida worker needs a Redis broker: set ZHIDA_REDIS_URL")
    assert err.count("\n") == 1


def test_replay_needs_ids_or_all(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deliveries", "replay"]) == 1
    assert "or --all" in capsys.readouterr().err


def test_why_names_an_unknown_subject(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deliveries", "why", "nobody"]) == 1
    assert "nothing was planned for 'nobody'" in capsys.readouterr().err


def test_plan_without_runs_says_how_to_make_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deliveries", "plan"]) == 1
    assert "no match runs yet" in capsys.readouterr().err


def test_an_operator_sees_a_parked_row_replays_it_and_asks_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from core.db import get_engine, upgrade
    from core.settings import get_settings
    from notifier.contacts import ContactStore
    from notifier.dispatch import plan_changes
    from rules.loader import load_catalog

    engine = get_engine()
    upgrade(engine)
    policies = load_catalog([Path(__file__).resolve().parents[2] / "rules" / "catalog"]).by_id
    ContactStore(engine).replace([{"subject_id": "p1", "phone": "+8613800000001"}])
    rows = [{"subject_id": s, "subject_type": "resident", "policy_id": "bj-elderly-card",
             "change": "newly_eligible", "old_status": None, "new_status": "eligible"}
            for s in ("p1", "p2")]  # fmt: skip
    plan_changes(
        engine, rows, policies, cause="cli", as_of=date(2026, 3, 2),
        now=datetime(2026, 3, 2, 4, 0, tzinfo=UTC), settings=get_settings(),
    )  # fmt: skip
    assert main(["deliveries", "status"]) == 0
    assert "sms      1 pending" in capsys.readouterr().out
    assert main(["deliveries", "replay", "--all"]) == 0  # nothing parked yet
    assert "0 row(s) replayed" in capsys.readouterr().out
    assert main(["deliveries", "why", "p1"]) == 0
    out = capsys.readouterr().out
    assert "bj-elderly-card: newly_eligible, invitation: planned → sms pending" in out


def test_match_plan_records_the_run_and_its_pushes_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = str(Path(__file__).resolve().parents[2] / "rules" / "catalog")
    pop = tmp_path / "pop"
    args = ["population", "generate", "--residents", "400", "--enterprises", "40", "--seed", "3"]
    assert main([*args, "--as-of", "2026-06-30", "--out", str(pop)]) == 0
    match = ["match", "--population", str(pop), "--policies", catalog, "--plan"]
    assert main([*match, "--as-of", "2025-06-30", "--out", str(tmp_path / "a.parquet")]) == 0
    assert "the first run: nothing to push" in capsys.readouterr().out
    assert main([*match, "--as-of", "2026-06-30", "--out", str(tmp_path / "b.parquet")]) == 0
    out = capsys.readouterr().out
    assert "recorded run 2" in out and "(run 2 vs 1)" in out
    assert "offers in order of priority by rules only (no trained model yet" in out
    assert "inbox" in out and "delivered" in out  # delivered in-process (no Redis)
    assert main(["deliveries", "plan"]) == 0  # the same diff is not planned twice
    assert "run 2 vs 1 was planned before" in capsys.readouterr().out


def test_match_plan_needs_the_run_recorded(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["match", "--population", "x", "--policies", ".", "--out", "m.parquet", "--plan"]
    argv += ["--no-record"]
    assert main(argv) == 1
    assert "--plan records the run and its pushes together" in capsys.readouterr().err


def test_reports_says_which_settings_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deliveries", "reports"]) == 2
    assert "set ZHIDA_SMS_GATEWAY_URL and ZHIDA_SMS_REPORTS_URL" in capsys.readouterr().err


def test_reports_polls_the_gateway_and_counts_what_it_said(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    from simulations.gateways import SmsGateway

    with SmsGateway() as gateway:
        for key in ("a", "b"):
            httpx.post(gateway.url, json={"to": "+8613800000001", "text": "hi"},
                       headers={"Idempotency-Key": key})  # fmt: skip
        monkeypatch.setenv("ZHIDA_SMS_GATEWAY_URL", gateway.url)
        monkeypatch.setenv("ZHIDA_SMS_REPORTS_URL", gateway.reports_url)
        assert main(["deliveries", "reports"]) == 0
    assert "0 delivered, 0 not delivered, 2 for messages not in this ledger" in (
        capsys.readouterr().out
    )
