"""POST /api/v1/policies/dry-run: reach of a draft, by group, against the published version."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from api.app.services import Services
from rules.store import PolicyStore
from simulations.preview_cache import SingleFlight
from simulations.privacy import PrivacyParameters
from tests.api.app.world import CATALOG, World, make_world

# These tests check what is counted, so the world's released figures are made with an ε so
# large that the noise (scale 1e-9) rounds to nothing; tests/api/app/test_privacy.py checks
# the released figures at the published parameters.
PRECISE = PrivacyParameters(epsilon=1e9, daily_cap=1e15, lifetime_cap=1e15)

URL = "/api/v1/policies/dry-run"
ALLOWANCE = (CATALOG / "bj-elderly-allowance.yaml").read_text(encoding="utf-8")
FROM_75 = ALLOWANCE.replace("age >= 80 and", "age >= 75 and")
FROM_70 = ALLOWANCE.replace("age >= 80 and", "age >= 70 and")
AS_OF = date(2026, 3, 1)  # the world's latest run


def _people() -> pl.DataFrame:
    """120 residents: ages 55..94 three times over, hukou Beijing / elsewhere / unknown."""
    rows = []
    for n in range(120):
        age = 55 + n % 40
        rows.append(
            {
                "person_id": f"P{n + 1}",
                "birth_date": date(AS_OF.year - age, 1, 1),
                "hukou_city": ["北京市", "上海市", None][n // 40],
                "residence_district": "西城区" if n % 2 else "海淀区",
            }
        )
    return pl.DataFrame(rows)


@pytest.fixture
def people() -> pl.DataFrame:
    return _people()


@pytest.fixture
def pop_world(sqlite_url: str, tmp_path: Path, people: pl.DataFrame) -> Iterator[World]:
    population = tmp_path / "pop"
    population.mkdir()
    people.write_parquet(population / "residents.parquet")
    yield from _with_card(make_world(sqlite_url, tmp_path, population), tmp_path)


def _with_card(worlds: Iterator[World], tmp_path: Path) -> Iterator[World]:
    for world in worlds:
        _svc(world).privacy.params = PRECISE
        card = tmp_path / "card"
        card.mkdir()
        shutil.copy(CATALOG / "bj-elderly-card.yaml", card)
        PolicyStore(world.engine).import_catalog(card, author="importer", note="seed")
        yield world


def _svc(world: World) -> Services:
    found = world.client.app.state["services"]
    assert isinstance(found, Services)
    return found


def _age(birth: date) -> int:
    return AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day))


def _expected(people: pl.DataFrame, threshold: int) -> dict[str, Any]:
    """The figures worked out record by record, without the matcher."""
    eligible, maybe, cost = [], [], Decimal(0)
    for r in people.iter_rows(named=True):
        age = _age(r["birth_date"])
        if age < threshold or r["hukou_city"] not in ("北京市", None):
            continue
        if r["hukou_city"] is None:
            maybe.append(r)
            continue
        eligible.append(r)
        # the allowance's scale (parameters.elderly_allowance): 0 under 80, whatever the draft
        cost += 800 if age >= 100 else 500 if age >= 90 else 100 if age >= 80 else 0
    return {"eligible": eligible, "maybe": maybe, "cost": cost}


def test_a_draft_shows_its_reach_cost_and_change_against_the_published_version(
    pop_world: World, people: pl.DataFrame
) -> None:
    response = pop_world.client.post(
        URL, json={"document": FROM_70}, headers=pop_world.as_("officer")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    new, old = _expected(people, 70), _expected(people, 80)
    assert (body["policy_id"], body["entity"], body["as_of"], body["population"]) == (
        "bj-elderly-allowance", "resident", "2026-03-01", 120,
    )  # fmt: skip
    assert (body["eligible"], body["maybe"]) == (len(new["eligible"]), len(new["maybe"]))
    assert body["period"] == "month"
    assert Decimal(body["cost_per_period"]) == new["cost"]
    assert Decimal(body["cost_per_year"]) == new["cost"] * 12
    gained = len(new["eligible"]) - len(old["eligible"])
    assert gained == 10
    versus = body["versus_published"]
    counts = ("published_version", "newly_eligible", "no_longer_eligible")
    assert {k: versus[k] for k in counts} == {
        "published_version": 1, "newly_eligible": gained, "no_longer_eligible": 0,
    }  # fmt: skip
    # The 15 eligible before and after (Beijing, 80-94) keep their amounts.
    assert _bands(versus) == {"no change": 15}
    # Everyone eligible is 60 or over: the elderly card's eligible include them all.
    assert body["overlaps"] == [{"policy_id": "bj-elderly-card", "both": len(new["eligible"])}]
    assert body["cached"] is False


def test_groups_are_counted_by_district_and_age_band_and_small_ones_are_suppressed(
    pop_world: World, people: pl.DataFrame
) -> None:
    body = pop_world.client.post(
        URL, json={"document": FROM_75}, headers=pop_world.as_("analyst")
    ).json()
    new = _expected(people, 75)
    by_district: dict[str, int] = {}
    for r in new["eligible"]:
        by_district[r["residence_district"]] = by_district.get(r["residence_district"], 0) + 1
    assert {g["group"]: g["eligible"] for g in body["by_group"]["district"]} == by_district
    bands = {g["group"]: g for g in body["by_group"]["age_band"]}
    eligible_75_79 = sum(1 for r in new["eligible"] if _age(r["birth_date"]) < 80)
    assert eligible_75_79 == 5  # 75..79, Beijing hukou: under the k-anonymity threshold
    assert bands["60-79"]["eligible"] == "<10"
    assert bands["60-79"]["maybe"] == "<10"
    assert bands["60-79"]["cost_per_year"] == "—"  # 6000 would say there are five
    assert Decimal(bands["80+"]["cost_per_year"]) == sum(
        (800 if _age(r["birth_date"]) >= 100 else 500 if _age(r["birth_date"]) >= 90 else 100) * 12
        for r in new["eligible"]
        if _age(r["birth_date"]) >= 80
    )
    assert bands["80+"]["eligible"] == len(new["eligible"]) - 5


def test_the_same_rule_as_published_changes_nothing_and_a_new_policy_has_no_published_version(
    pop_world: World, people: pl.DataFrame
) -> None:
    same = pop_world.client.post(
        URL, json={"document": ALLOWANCE}, headers=pop_world.as_("officer")
    )
    body = same.json()
    assert body["eligible"] == len(_expected(people, 80)["eligible"])
    assert body["versus_published"] == {
        "published_version": 1, "newly_eligible": 0, "no_longer_eligible": 0,
        "amount_changes": [], "cost_per_year_before": None, "cost_per_year_after": None,
    }  # fmt: skip
    fresh = ALLOWANCE.replace("id: bj-elderly-allowance", "id: bj-elderly-allowance-draft")
    assert (
        pop_world.client.post(
            URL, json={"document": fresh}, headers=pop_world.as_("officer")
        ).json()["versus_published"]
        is None
    )


def test_a_draft_starting_next_year_still_shows_its_reach(
    pop_world: World, people: pl.DataFrame
) -> None:
    later = FROM_75.replace("valid_from: 2020-01-01", "valid_from: 2030-01-01")
    body = pop_world.client.post(URL, json={"document": later}, headers=pop_world.as_("officer"))
    assert body.json()["eligible"] == len(_expected(people, 75)["eligible"])


def test_an_invalid_document_is_a_422_naming_line_and_column(pop_world: World) -> None:
    typo = FROM_75.replace("age >= 75", "agee >= 75")
    response = pop_world.client.post(URL, json={"document": typo}, headers=pop_world.as_("officer"))
    assert response.status_code == 422
    error = response.json()["error"]
    (problem,) = error["problems"]
    line = next(n for n, text in enumerate(typo.splitlines(), 1) if "agee" in text)
    assert problem["line"] == line and problem["col"] > 1
    assert "age" in problem["message"]  # the nearest field is suggested


def test_a_repeated_request_is_answered_from_the_cache_until_something_is_published(
    pop_world: World,
) -> None:
    svc = _svc(pop_world)
    officer = pop_world.as_("officer")
    first = pop_world.client.post(URL, json={"document": FROM_75}, headers=officer).json()
    again = pop_world.client.post(URL, json={"document": FROM_75}, headers=officer).json()
    assert again["cached"] is True and svc.dry_runs.results.computed == 1
    assert {k: v for k, v in again.items() if k not in ("cached", "elapsed_ms")} == {
        k: v for k, v in first.items() if k not in ("cached", "elapsed_ms")
    }
    # A reviewer publishes the new threshold: the published version and the reach change.
    store = PolicyStore(pop_world.engine)
    version = store.draft(FROM_75, author="officer", note="75")
    store.submit("bj-elderly-allowance", version)
    store.publish("bj-elderly-allowance", version, reviewer="reviewer")
    after = pop_world.client.post(URL, json={"document": FROM_75}, headers=officer).json()
    assert after["cached"] is False and svc.dry_runs.results.computed == 2
    assert after["versus_published"]["published_version"] == version
    assert after["versus_published"]["newly_eligible"] == 0


def test_a_changed_population_file_is_a_new_snapshot(
    pop_world: World, people: pl.DataFrame
) -> None:
    svc = _svc(pop_world)
    officer = pop_world.as_("officer")
    before = pop_world.client.post(URL, json={"document": FROM_75}, headers=officer).json()
    assert svc.population is not None
    people.head(30).write_parquet(svc.population / "residents.parquet")
    after = pop_world.client.post(URL, json={"document": FROM_75}, headers=officer).json()
    assert after["cached"] is False
    assert after["population"] == 30 and after["eligible"] != before["eligible"]


def test_without_a_population_the_dry_run_is_unavailable(world: World) -> None:
    response = world.client.post(URL, json={"document": FROM_75}, headers=world.as_("officer"))
    assert response.status_code == 503
    assert "--population" in response.json()["error"]["message"]


def test_concurrent_identical_requests_share_one_computation() -> None:
    flight: SingleFlight[int] = SingleFlight()
    calls = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    results: list[tuple[int, bool]] = []
    threads = [threading.Thread(target=lambda: results.append(flight.get("k", slow)))
               for _ in range(8)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and flight.computed == 1
    assert sorted(results) == [(42, False)] + [(42, True)] * 7


def test_a_failed_computation_is_not_kept() -> None:
    flight: SingleFlight[int] = SingleFlight()

    def broken() -> int:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        flight.get("k", broken)
    assert flight.get("k", lambda: 7) == (7, False)


def test_the_cache_keeps_the_newest_entries() -> None:
    flight: SingleFlight[int] = SingleFlight(maxsize=2)
    for key in ("a", "b", "c"):
        flight.get(key, lambda: 1)
    assert flight.get("a", lambda: 2) == (2, False)  # "a" was the oldest and left
    assert flight.get("c", lambda: 3) == (1, True)


def test_a_control_character_is_a_422_at_its_position_not_a_500(pop_world: World) -> None:
    document = ALLOWANCE.replace("title: 高龄老年人津贴", "title: 高龄\x17老年人津贴")
    response = pop_world.client.post(
        URL, json={"document": document}, headers=pop_world.as_("officer")
    )
    assert response.status_code == 422
    (problem,) = response.json()["error"]["problems"]
    assert (problem["line"], problem["col"]) == (3, 10)
    assert "not valid YAML" in problem["message"]


def test_async_waiters_share_one_computation_and_leave_the_event_loop_free() -> None:
    """The computation waits (up to 10 s) for the event loop to tick five times: it can only
    see them if the loop stays free while the thread computes; a blocked loop would tick
    after it, whatever the machine's load."""
    import asyncio
    import threading

    flight: SingleFlight[int] = SingleFlight()
    ticks: list[float] = []
    ticked = threading.Event()
    seen: list[bool] = []

    def slow() -> int:
        seen.append(ticked.wait(timeout=10))
        return 7

    async def ticker() -> None:
        for _ in range(5):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.03)
        ticked.set()

    async def main() -> list[tuple[int, bool]]:
        waiting = asyncio.gather(*(flight.aget("k", slow) for _ in range(20)))
        results, _ = await asyncio.gather(waiting, ticker())
        return list(results)

    results = asyncio.run(main())
    assert flight.computed == 1
    assert sorted(results) == [(7, False)] + [(7, True)] * 19
    assert len(ticks) == 5 and seen == [True]  # the loop ticked while the thread computed


def test_the_cost_of_fewer_than_ten_eligible_is_hidden(pop_world: World) -> None:
    from_93 = ALLOWANCE.replace("age >= 80 and", "age >= 93 and")  # two Beijing residents
    body = pop_world.client.post(
        URL, json={"document": from_93}, headers=pop_world.as_("officer")
    ).json()
    assert (body["eligible"], body["cost_per_period"], body["cost_per_year"]) == ("<10", "—", "—")


def test_a_parameter_change_is_dry_run_against_the_published_policy(pop_world: World) -> None:
    body = {"document": ALLOWANCE, "parameters": ["elderly_allowance[90]=600"]}
    response = pop_world.client.post(URL, json=body, headers=pop_world.as_("officer"))
    assert response.status_code == 200, response.text
    figures = response.json()
    assert figures["parameters"] == ["elderly_allowance[90]=600"]
    # Beijing hukou, 80-94: ten at 100 and five aged 90+ now at 600 instead of 500
    assert Decimal(figures["cost_per_period"]) == Decimal(10 * 100 + 5 * 600)
    assert figures["versus_published"]["newly_eligible"] in (0, "<10")
    # ... who gain 1,200 a year each: fewer than ten, withheld; the other ten keep theirs
    assert _bands(figures["versus_published"]) == {"1 … 1200": "<10", "no change": 10}
    plain = pop_world.client.post(
        URL, json={"document": ALLOWANCE}, headers=pop_world.as_("officer")
    )
    assert Decimal(plain.json()["cost_per_period"]) == Decimal(10 * 100 + 5 * 500)


def _bands(versus: dict[str, Any]) -> dict[str, Any]:
    return {b["change_per_year"]: b["subjects"] for b in versus["amount_changes"] if b["subjects"]}


def test_who_gains_shows_amount_changes_as_a_distribution_and_the_cost_before_and_after(
    pop_world: World, people: pl.DataFrame
) -> None:
    """A tier changes and nobody becomes or stops being eligible: 新增 0 / 不再 0 said nothing."""
    more = ALLOWANCE.replace(
        "benefit: 'parameters.elderly_allowance[age]'",
        "benefit: 'parameters.elderly_allowance[age] + 200'",
    )
    response = pop_world.client.post(URL, json={"document": more}, headers=pop_world.as_("officer"))
    versus = response.json()["versus_published"]
    assert (versus["newly_eligible"], versus["no_longer_eligible"]) == (0, 0)
    both = _expected(people, 80)
    assert _bands(versus) == {"> 1200": len(both["eligible"])}  # 2,400 a year more each
    assert Decimal(versus["cost_per_year_before"]) == both["cost"] * 12
    assert (
        Decimal(versus["cost_per_year_after"]) == (both["cost"] + 200 * len(both["eligible"])) * 12
    )


def test_a_parameter_change_that_cannot_be_read_is_refused_before_anything_runs(
    pop_world: World,
) -> None:
    body = {"document": ALLOWANCE, "parameters": ["elderly_alowance[90]=600"]}
    response = pop_world.client.post(URL, json=body, headers=pop_world.as_("officer"))
    assert 400 <= response.status_code < 500
    assert "did you mean 'elderly_allowance'" in response.text
