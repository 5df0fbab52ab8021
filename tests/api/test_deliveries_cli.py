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


def test_a_match_over_a_population_missing_most_residents_is_held_until_released(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import polars as pl

    from core.db import get_engine
    from notifier.channels.inbox import InboxStore
    from notifier.outbox import Outbox

    catalog = str(Path(__file__).resolve().parents[2] / "rules" / "catalog")
    pop = tmp_path / "pop"
    args = ["population", "generate", "--residents", "400", "--enterprises", "40", "--seed", "3"]
    assert main([*args, "--as-of", "2026-06-30", "--out", str(pop)]) == 0
    match = ["match", "--population", str(pop), "--policies", catalog, "--plan"]
    for n, day in enumerate(["2026-05-30", "2026-06-30"]):
        assert main([*match, "--as-of", day, "--out", str(tmp_path / f"{n}.parquet")]) == 0
    assert "guard: passed" in capsys.readouterr().out  # a month's natural changes
    engine = get_engine()
    sent = Outbox(engine).counts()["inbox"]["delivered"]
    residents = pop / "residents.parquet"
    # A file cut short, its links cut with it (dangling links are refused: profiles.link_checks)
    people = pl.read_parquet(residents).head(20)
    homes = people.filter(pl.col("relation_to_head") == "head")["household_id"].implode()
    people = people.filter(pl.col("household_id").is_in(homes))
    people.write_parquet(residents)
    for name, key in (("households", "household_id"), ("employments", "person_id")):
        kept = people[key].implode()
        pl.read_parquet(pop / f"{name}.parquet").filter(pl.col(key).is_in(kept)).write_parquet(
            pop / f"{name}.parquet"
        )
    assert main([*match, "--as-of", "2026-06-30", "--out", str(tmp_path / "cut.parquet")]) == 0
    out = capsys.readouterr().out
    assert "recorded run 3" in out and "plan 2 (run 3 vs 2)" in out
    assert "guard: HELD for an operator" in out and "the subjects with an offer fell from" in out
    held = Outbox(engine).counts()["inbox"]
    assert held["delivered"] == sent and held["held"] > 0 and "pending" not in held
    assert main(["deliveries", "held"]) == 0
    assert "plan 2 (run 3 vs 2): held by the mass-change guard" in capsys.readouterr().out
    assert main(["deliveries", "release", "2"]) == 0
    assert "plan 2 released" in capsys.readouterr().out
    after = Outbox(engine).counts()["inbox"]
    assert after == {"delivered": sent + held["held"]}
    inbox = InboxStore(engine)
    keys = [m.idempotency_key for s in Outbox(engine).subjects() for m in inbox.messages(s)]
    assert len(keys) == len(set(keys)) == after["delivered"]  # each notice once
    assert main(["deliveries", "release", "2"]) == 1
    err = capsys.readouterr().err
    assert "plan 2 was released by" in err and err.count("\n") == 1


def test_an_operator_holds_a_plan_lists_it_and_releases_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from core.db import get_engine, upgrade
    from core.settings import get_settings
    from notifier.dispatch import plan_changes
    from rules.loader import load_catalog

    engine = get_engine()
    upgrade(engine)
    policies = load_catalog([Path(__file__).resolve().parents[2] / "rules" / "catalog"]).by_id
    rows = [{"subject_id": s, "subject_type": "resident", "policy_id": "bj-elderly-card",
             "change": "newly_eligible", "old_status": None, "new_status": "eligible"}
            for s in ("p1", "p2")]  # fmt: skip
    plan_changes(
        engine, rows, policies, cause="cli", as_of=date(2026, 3, 2),
        now=datetime(2026, 3, 2, 4, 0, tzinfo=UTC), settings=get_settings(),
    )  # fmt: skip
    assert main(["deliveries", "hold", "1", "--note", "amounts to check"]) == 0
    assert "plan 1 held: 2 row(s) wait" in capsys.readouterr().out
    assert main(["deliveries", "status"]) == 0
    assert "held: plan 1 (cli), 2 row(s)" in capsys.readouterr().out
    assert main(["deliveries", "held"]) == 0
    out = capsys.readouterr().out
    assert "plan 1 (cli): held by " in out and "; 2 row(s) carrying 0 revocations" in out
    assert ": amounts to check" in out
    assert main(["deliveries", "hold", "1"]) == 1
    assert "plan 1 is already held" in capsys.readouterr().err
    assert main(["deliveries", "release", "1", "--no-deliver"]) == 0
    assert "plan 1 released: 2 row(s) due now" in capsys.readouterr().out
    assert main(["deliveries", "held"]) == 0
    assert "no plan is held" in capsys.readouterr().out
    assert main(["deliveries", "held", "--all"]) == 0
    assert ", then released by " in capsys.readouterr().out
    assert main(["deliveries", "release", "9"]) == 1
    assert "no delivery plan 9" in capsys.readouterr().err


def test_an_operator_discards_a_held_plan(capsys: pytest.CaptureFixture[str]) -> None:
    from core.db import get_engine, upgrade
    from core.settings import get_settings
    from notifier.dispatch import plan_changes
    from rules.loader import load_catalog

    engine = get_engine()
    upgrade(engine)
    policies = load_catalog([Path(__file__).resolve().parents[2] / "rules" / "catalog"]).by_id
    rows = [{"subject_id": "p1", "subject_type": "resident", "policy_id": "bj-elderly-card",
             "change": "newly_eligible", "old_status": None, "new_status": "eligible"}]  # fmt: skip
    plan_changes(
        engine, rows, policies, cause="cli", as_of=date(2026, 3, 2),
        now=datetime(2026, 3, 2, 4, 0, tzinfo=UTC), settings=get_settings(),
    )  # fmt: skip
    assert main(["deliveries", "discard", "1"]) == 1
    assert "plan 1 is not held; only a held plan can be discarded" in capsys.readouterr().err
    assert main(["deliveries", "hold", "1"]) == 0
    assert main(["deliveries", "discard", "1"]) == 0
    assert "plan 1 discarded: 1 row(s) cancelled, nothing sent" in capsys.readouterr().out
    assert main(["deliveries", "status"]) == 0
    assert "inbox    1 cancelled" in capsys.readouterr().out
