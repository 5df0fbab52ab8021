"""The mass-change guard where plans are made: a run that ends an unusual share of offers is
recorded, its plan held and nothing sent; a release sends each notice once.  Natural churn
and a retirement through the review are not held."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from core.db import get_engine, upgrade
from core.errors import ValidationError
from core.settings import Settings
from matcher.runs import RunStore
from notifier.campaign import deliver_in_process, plan_run, record_and_plan
from notifier.channels.memory import MemoryChannel
from notifier.dispatch import PlanSummary
from notifier.grants import GrantStore
from notifier.holds import PlanHolds
from notifier.outbox import Outbox
from rules.loader import load_catalog
from rules.policy import Policy
from rules.store import PolicyStore

CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"
AS_OF = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
PAIRS = {"subject_id": pl.String, "subject_type": pl.String, "policy_id": pl.String,
         "status": pl.String, "benefit": pl.Float64}  # fmt: skip
GRANTED = "bj-elderly-allowance"  # auto_grant: its endings are revocation notices
STEADY = "bj-elderly-card"  # proactive_push


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    upgrade(get_engine(database_url))
    return Settings.from_env(
        {"ZHIDA_DATA_DIR": str(tmp_path), "ZHIDA_DATABASE_URL": database_url,
         "ZHIDA_QUIET_HOURS": "", "ZHIDA_PERSONALISATION": "off"}
    )  # fmt: skip


@pytest.fixture
def policies() -> dict[str, Policy]:
    return dict(load_catalog([CATALOG]).by_id)


class Runs:
    """Runs over a population given as (policy, subjects) pairs, recorded one after another."""

    def __init__(self, settings: Settings, policies: dict[str, Policy], tmp_path: Path) -> None:
        self.settings, self.policies, self.tmp_path = settings, policies, tmp_path
        self.engine = get_engine(settings.database_url)
        self.n = 0

    def pairs(self, offers: Mapping[str, Iterable[str]]) -> Path:
        self.n += 1
        rows = [
            (s, "resident", policy, "eligible", 100.0 if policy == GRANTED else None)
            for policy, subjects in offers.items()
            for s in subjects
        ]
        path = self.tmp_path / f"pairs-{self.n}.parquet"
        pl.DataFrame(rows, schema=PAIRS, orient="row").write_parquet(path)
        return path

    def record(self, offers: Mapping[str, Iterable[str]]) -> None:
        """Record a run without planning it (history)."""
        RunStore(self.engine, self.settings.data_dir).record(
            self.pairs(offers), as_of=AS_OF, catalog_hash="c", population="pop",
            started_at=NOON, seconds=1.0, policies=len(offers),
        )  # fmt: skip

    def plan(
        self, offers: Mapping[str, Iterable[str]], how: str = "match --plan",
        parameters: dict[str, tuple[str, str]] | None = None,
    ) -> PlanSummary:  # fmt: skip
        """Record a run and plan its diff, as ``zhida match --plan`` or ``deliveries plan``;
        ``parameters``: the parameter versions the run read (default: those in force)."""
        if how == "deliveries plan":
            self.record(offers)
            return plan_run(self.settings, self.policies, now=NOON, channels=frozenset({"inbox"}))
        _, summary = record_and_plan(
            self.settings, self.pairs(offers), self.policies, as_of=AS_OF, catalog_hash="c",
            population_id="pop", started_at=NOON, seconds=1.0, now=NOON,
            channels=frozenset({"inbox"}), parameters=parameters,
        )  # fmt: skip
        assert summary is not None
        return summary

    def deliver(self, inbox: MemoryChannel, ids: Iterable[int] = ()) -> None:
        deliver_in_process(self.settings, {"inbox": inbox}, ids=list(ids))


@pytest.fixture
def runs(settings: Settings, policies: dict[str, Policy], tmp_path: Path) -> Runs:
    return Runs(settings, policies, tmp_path)


def people(prefix: str, n: int, start: int = 0) -> list[str]:
    return [f"{prefix}{i}" for i in range(start, start + n)]


def grant_statuses(engine: sa.Engine, subjects: Iterable[str]) -> set[str]:
    store = GrantStore(engine)
    return {g.status for s in subjects for g in store.of(s) if g.policy_id == GRANTED}


@pytest.mark.parametrize("how", ["match --plan", "deliveries plan"])
def test_a_run_missing_most_residents_is_held_sends_nothing_and_a_release_sends_each_once(
    runs: Runs, how: str
) -> None:
    inbox = MemoryChannel("inbox")
    everyone = people("p", 200)
    runs.record({GRANTED: everyone[:10]})
    granted = runs.plan({GRANTED: everyone}, how)  # 190 grants: nothing ended, passes
    runs.deliver(inbox, granted.due_ids)
    passed = PlanHolds(runs.engine).of(granted.plan_id)
    assert len(inbox.sent) == 190 and passed is not None and passed.status == "passed"

    # residents.parquet cut short: 10 of 200 residents are left
    cut = runs.plan({GRANTED: everyone[:10]}, how)
    holds = PlanHolds(runs.engine)
    guarded = holds.of(cut.plan_id)
    assert cut.due_ids == () and guarded is not None and guarded.status == "held"
    assert guarded.held_rows == 190 and guarded.revocations == 190
    assert guarded.reasons[0].startswith("the subjects with an offer fell from 200 to 10")
    assert guarded.reasons[1].startswith(f"{GRANTED}: this run ends 190 of 200 offers (95.0 %)")
    runs.deliver(inbox)  # the workers and the sweeper pass: nothing of the held plan goes
    assert len(inbox.sent) == 190
    assert grant_statuses(runs.engine, everyone[10:]) == {"end_held"}  # still paid

    due = holds.release(cut.plan_id, by="li", now=datetime.now(UTC))
    assert len(due) == 190
    runs.deliver(inbox, due)
    runs.deliver(inbox, due)  # handed over twice: still delivered once
    assert len(inbox.sent) == 380 and set(inbox.counts().values()) == {1}
    assert grant_statuses(runs.engine, everyone[10:]) == {"ending"}
    with pytest.raises(ValidationError, match="was released by li at"):
        holds.release(cut.plan_id, by="wang", now=datetime.now(UTC))


def test_a_discarded_plan_sends_nothing_and_the_right_run_after_it_sends_nothing_again(
    runs: Runs,
) -> None:
    inbox = MemoryChannel("inbox")
    everyone = people("p", 200)
    runs.record({GRANTED: everyone[:10]})
    runs.deliver(inbox, runs.plan({GRANTED: everyone}).due_ids)  # 190 grants told
    cut = runs.plan({GRANTED: everyone[:10]})  # the wrong run: held
    holds = PlanHolds(runs.engine)
    assert holds.discard(cut.plan_id, by="li", now=NOON) == 190
    assert Outbox(runs.engine).counts() == {"inbox": {"delivered": 190, "cancelled": 190}}
    assert grant_statuses(runs.engine, everyone[10:]) == {"active"}  # never announced
    with pytest.raises(ValidationError, match="was discarded by li at"):
        holds.release(cut.plan_id, by="wang", now=NOON)
    again = runs.plan({GRANTED: everyone})  # the right files again: everyone is back
    guarded = holds.of(again.plan_id)
    assert guarded is not None and guarded.status == "passed"
    assert again.messages == 0 and again.decisions["suppressed"] == 190  # told before
    runs.deliver(inbox)
    assert len(inbox.sent) == 190 and grant_statuses(runs.engine, everyone[10:]) == {"active"}


def test_a_policy_with_natural_churn_keeps_its_rhythm(runs: Runs) -> None:
    steady = {STEADY: people("s", 2000)}
    for k in range(7):  # an age window: each run 40 of 400 leave and 40 others come of age
        runs.record({**steady, GRANTED: people("w", 400, start=40 * k)})
    # This run 40 leave (10 %, as always) and nobody comes of age.
    summary = runs.plan({**steady, GRANTED: people("w", 360, start=40 * 7)})
    guarded = PlanHolds(runs.engine).of(summary.plan_id)
    assert guarded is not None and guarded.status == "passed", guarded
    assert summary.due_ids  # the 40 revocation notices go out


def test_the_same_endings_without_a_rhythm_are_held(runs: Runs) -> None:
    steady = {STEADY: people("s", 2000)}
    for _ in range(7):
        runs.record({**steady, GRANTED: people("w", 400)})
    summary = runs.plan({**steady, GRANTED: people("w", 360, start=40)})
    guarded = PlanHolds(runs.engine).of(summary.plan_id)
    assert guarded is not None and guarded.status == "held"
    assert guarded.reasons == (
        f"{GRANTED}: this run ends 40 of 400 offers (10.0 %), above 2.0 % and above 3× its "
        "median of 0.0 % over the last 6 runs",
    )


@pytest.mark.parametrize("retired", [True, False])
def test_a_retirement_through_the_review_is_not_held(
    runs: Runs, tmp_path: Path, retired: bool
) -> None:
    review = tmp_path / "review"
    review.mkdir()
    (review / f"{GRANTED}.yaml").write_text(
        (CATALOG / f"{GRANTED}.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    store = PolicyStore(runs.engine)
    version = store.import_catalog(review, author="li", note="in force")[GRANTED]
    if retired:
        store.retire(GRANTED, version)
    runs.record({STEADY: people("s", 2000), GRANTED: people("o", 300)})
    del runs.policies[GRANTED]  # no longer in the catalog the run matched
    summary = runs.plan({STEADY: people("s", 2000)})
    guarded = PlanHolds(runs.engine).of(summary.plan_id)
    assert guarded is not None
    if retired:
        assert guarded.status == "passed"
        assert guarded.deliberate == (
            f"{GRANTED}: 300 of 300 offers end, retired through the review (version 1)",
        )
    else:  # a policy that vanished without a retirement is an anomaly
        assert guarded.status == "held" and guarded.deliberate == ()
        assert any(r.startswith(f"{GRANTED}: this run ends 300 of 300") for r in guarded.reasons)


def test_the_thresholds_come_from_the_settings(
    database_url: str, tmp_path: Path, policies: dict[str, Policy]
) -> None:
    upgrade(get_engine(database_url))
    lenient = Settings.from_env(
        {"ZHIDA_DATA_DIR": str(tmp_path), "ZHIDA_DATABASE_URL": database_url,
         "ZHIDA_GUARD_SHARE": "0.99", "ZHIDA_GUARD_POPULATION_DROP": "0.99",
         "ZHIDA_PERSONALISATION": "off"}
    )  # fmt: skip
    runs = Runs(lenient, policies, tmp_path)
    runs.record({GRANTED: people("p", 200)})
    summary = runs.plan({GRANTED: people("p", 10)})
    guarded = PlanHolds(runs.engine).of(summary.plan_id)
    assert guarded is not None and guarded.status == "passed" and summary.due_ids


def test_an_operator_holds_any_plan_and_a_release_sends_it_once(runs: Runs) -> None:
    inbox = MemoryChannel("inbox")
    runs.record({GRANTED: people("p", 10)})
    summary = runs.plan({GRANTED: people("p", 30)})
    holds = PlanHolds(runs.engine)
    assert holds.hold(summary.plan_id, by="li", note="the amounts look wrong", now=NOON) == 20
    runs.deliver(inbox, summary.due_ids)  # handed to the workers before the hold: not sent
    assert inbox.sent == []
    with pytest.raises(ValidationError, match="is already held"):
        holds.hold(summary.plan_id, by="wang", note="", now=NOON)
    [held] = holds.held()
    assert held.reasons == ("held by li: the amounts look wrong",) and held.held_rows == 20
    runs.deliver(inbox, holds.release(summary.plan_id, by="wang", now=datetime.now(UTC)))
    assert len(inbox.sent) == 20 and holds.held() == []
    assert Outbox(runs.engine).counts() == {"inbox": {"delivered": 20}}


def test_a_release_in_quiet_hours_waits_for_the_window_to_open(runs: Runs) -> None:
    from datetime import time
    from zoneinfo import ZoneInfo

    runs.record({GRANTED: people("p", 10)})
    summary = runs.plan({GRANTED: people("p", 30)})
    holds = PlanHolds(runs.engine)
    holds.hold(summary.plan_id, by="li", note="", now=NOON)
    night = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 22:30 in Beijing
    due = holds.release(
        summary.plan_id, by="li", now=night, quiet_hours={"inbox": (time(21), time(8))},
        tz=ZoneInfo("Asia/Shanghai"),
    )  # fmt: skip
    assert due == []
    waiting = Outbox(runs.engine).rows("pending")
    assert len(waiting) == 20
    assert {r.next_attempt_at for r in waiting} == {datetime(2026, 3, 3, 0, 0)}  # 08:00 there


def test_the_history_a_plan_keeps_equals_the_history_read_from_the_pairs(runs: Runs) -> None:
    runs.record({GRANTED: people("p", 100), STEADY: people("s", 50)})
    runs.plan({GRANTED: people("p", 90), STEADY: people("s", 60)})
    store = RunStore(runs.engine, runs.settings.data_dir)
    assert [p.name for p in store.directory.glob("*.ended.json")] == ["2.ended.json"]
    kept = store.ended_shares(6)
    assert kept == {GRANTED: [0.1], STEADY: [0.0]}
    for cache in store.directory.glob("*.ended.json"):
        cache.unlink()
    assert store.ended_shares(6) == kept  # computed again from the pairs


def _import(runs: Runs, tmp_path: Path, *documents: str) -> dict[str, int]:
    review = tmp_path / "review"
    review.mkdir(exist_ok=True)
    for name in documents:
        (review / f"{name}.yaml").write_text(
            (CATALOG / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
    return PolicyStore(runs.engine).import_catalog(review, author="li", note="in force")


SUCCESSOR = "bj-elderly-allowance-2027"
MEALS = "bj-elderly-meal-subsidy"  # auto_grant too
# Two versions of the parameter the allowance reads (the second made up for the tests).
ALLOWANCE_2020 = {"elderly_allowance": ("2020-01-01", "≥80: 100; ≥90: 500; ≥100: 800")}
ALLOWANCE_2027 = {"elderly_allowance": ("2027-01-01", "≥85: 150; ≥90: 500; ≥100: 800")}


def _successor(policies: dict[str, Policy]) -> str:
    """The elderly allowance again under a new id, declaring that it replaces the old one."""
    text = (CATALOG / f"{GRANTED}.yaml").read_text(encoding="utf-8")
    text = text.replace(f"id: {GRANTED}\n", f"id: {SUCCESSOR}\n")
    return text + f"relations:\n  - replaces: {GRANTED}\n"


def test_a_declared_replacement_published_through_the_review_releases_its_endings(
    runs: Runs, tmp_path: Path
) -> None:
    from rules.loader import load_policy_text

    _import(runs, tmp_path, GRANTED)
    store = PolicyStore(runs.engine)
    document = _successor(runs.policies)
    version = store.draft(document, author="wang", note="the 2027 allowance")
    store.submit(SUCCESSOR, version)
    store.publish(SUCCESSOR, version, reviewer="li", retire=[GRANTED])
    runs.record({STEADY: people("s", 2000), GRANTED: people("o", 300)})
    del runs.policies[GRANTED]  # retired: the run matches its successor instead
    runs.policies[SUCCESSOR] = load_policy_text(document, tmp_path / "s.yaml")
    summary = runs.plan({STEADY: people("s", 2000), SUCCESSOR: people("n", 250)})
    guarded = PlanHolds(runs.engine).of(summary.plan_id)
    assert guarded is not None and guarded.status == "passed", guarded
    assert guarded.deliberate == (
        f"{GRANTED}: 300 of 300 offers end, replaced by {SUCCESSOR} (version 1, published "
        f"through the review; {GRANTED} version 1 retired)",
    )


def test_a_replacement_that_is_not_published_is_no_deliberate_act(
    runs: Runs, tmp_path: Path
) -> None:
    """A draft declaring the replacement, with the old policy gone from the files: held."""
    from rules.loader import load_policy_text

    _import(runs, tmp_path, GRANTED)
    document = _successor(runs.policies)
    PolicyStore(runs.engine).draft(document, author="wang", note="not reviewed yet")
    runs.record({STEADY: people("s", 2000), GRANTED: people("o", 300)})
    del runs.policies[GRANTED]
    runs.policies[SUCCESSOR] = load_policy_text(document, tmp_path / "s.yaml")
    summary = runs.plan({STEADY: people("s", 2000), SUCCESSOR: people("n", 250)})
    guarded = PlanHolds(runs.engine).of(summary.plan_id)
    assert guarded is not None and guarded.status == "held" and guarded.deliberate == ()


@pytest.mark.parametrize("changed", [True, False], ids=["changed", "unchanged"])
def test_a_parameter_change_releases_the_endings_of_the_policies_reading_it(
    runs: Runs, changed: bool
) -> None:
    """The runs record the parameter versions they read; a new version between two runs is a
    deliberate act for the policies reading it (the allowance reads elderly_allowance)."""
    RunStore(runs.engine, runs.settings.data_dir).record(
        runs.pairs({STEADY: people("s", 2000), GRANTED: people("o", 300)}), as_of=AS_OF,
        catalog_hash="c", population="pop", started_at=NOON, seconds=1.0, policies=2,
        parameters=ALLOWANCE_2020,
    )  # fmt: skip
    summary = runs.plan(
        {STEADY: people("s", 2000), GRANTED: people("o", 120)},
        parameters=ALLOWANCE_2027 if changed else ALLOWANCE_2020,
    )
    guarded = PlanHolds(runs.engine).of(summary.plan_id)
    assert guarded is not None
    if changed:
        assert guarded.status == "passed" and guarded.deliberate == (
            f"{GRANTED}: 180 of 300 offers end, a parameter it reads changed: elderly_allowance "
            "changed from 2020-01-01 (≥80: 100; ≥90: 500; ≥100: 800) to 2027-01-01 (≥85: 150; "
            "≥90: 500; ≥100: 800)",
        )
        assert len(summary.due_ids) == 180  # the revocation notices go out
    else:
        assert guarded.status == "held" and guarded.deliberate == ()
        assert guarded.reasons[-1] == (
            f"{GRANTED}: this run ends 180 of 300 offers (60.0 %), above 2.0 % and above 3× "
            "the 0.0 % it starts (no earlier runs to compare with)"
        )


def test_a_held_plan_still_sends_the_endings_a_deliberate_act_made(runs: Runs) -> None:
    """A parameter change ends 180 of the allowance's offers as a cut file ends 380 of the meal
    subsidy's: the plan is held, the allowance's 180 revocations go out all the same (and
    are listed on the operator page), the meal subsidy's wait for an operator."""
    inbox = MemoryChannel("inbox")
    runs.record({})
    offers = {GRANTED: people("o", 300), MEALS: people("m", 400)}
    runs.deliver(inbox, runs.plan(offers, parameters=ALLOWANCE_2020).due_ids)  # 700 grants
    inbox.clear()
    summary = runs.plan(
        {GRANTED: people("o", 120), MEALS: people("m", 20)}, parameters=ALLOWANCE_2027
    )
    guarded = PlanHolds(runs.engine).of(summary.plan_id)
    assert guarded is not None and guarded.status == "held"
    assert len(guarded.deliberate) == 1
    assert guarded.deliberate[0].startswith(f"{GRANTED}: 180 of 300 offers end, a parameter")
    assert guarded.reasons[-1].startswith(f"{MEALS}: this run ends 380 of 400 offers")
    assert guarded.held_rows == 380 and guarded.revocations == 380
    assert len(summary.due_ids) == 180
    runs.deliver(inbox)  # the workers and the sweeper: the held rows stay
    told = {m.subject_id for m in inbox.sent}
    assert told == set(people("o", 180, start=120)) and len(inbox.sent) == 180
    assert grant_statuses(runs.engine, people("o", 180, start=120)) == {"ending"}
    assert Outbox(runs.engine).counts()["inbox"]["held"] == 380


def test_held_rows_do_not_count_against_the_weekly_budget_until_released(runs: Runs) -> None:
    from notifier.dispatch import load_history

    everyone = people("p", 200)
    runs.record({GRANTED: everyone})
    cut = runs.plan({GRANTED: everyone[:10]})  # held: 190 revocations wait
    held_person = everyone[50]

    def sent_this_week() -> int:
        with runs.engine.connect() as conn:
            history = load_history(conn, [held_person], NOON)
        return history.sent_this_week.get(held_person, 0)

    assert sent_this_week() == 0
    PlanHolds(runs.engine).release(cut.plan_id, by="li", now=datetime.now(UTC))
    assert sent_this_week() == 1
