from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from api.cli import main
from tests.populations import Populations

CATALOG = str(Path(__file__).resolve().parents[2] / "rules" / "catalog")
AS_OF = ["--as-of", "2026-06-30"]


@pytest.fixture(scope="module")
def population(populations: Populations, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of its own: the rank commands write their outcomes and pairs next to it."""
    pop = tmp_path_factory.mktemp("rank") / "pop"
    populations.copy(4000, 400, seed=2, as_of=date(2026, 6, 30), to=pop)
    match = ["match", "--population", str(pop), "--policies", CATALOG, "--no-record"]
    assert main([*match, "--out", str(pop / "pairs.parquet"), *AS_OF]) == 0
    return pop


def _io(pop: Path) -> list[str]:
    return ["--population", str(pop), "--pairs", str(pop / "pairs.parquet"), *AS_OF]


@pytest.mark.slow  # simulates two campaigns and trains the models
def test_outcomes_train_list_evaluate_explain(
    population: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["rank", "outcomes", *_io(population), "--seed", "3", "--share", "0.4"]) == 0
    printed = capsys.readouterr()
    assert "outcomes.parquet" in printed.out and "simulating 2 campaign(s)" in printed.err
    log = pl.read_parquet(population / "outcomes.parquet")
    assert set(log["round"].unique()) == {1, 2}
    assert log["pushed"].mean() == pytest.approx(0.4, abs=0.03)
    assert (population / "truth.parquet").is_file()

    assert main(["rank", "train", *_io(population), "--seed", "3", "--iterations", "40"]) == 0
    printed = capsys.readouterr()
    assert "model v1:" in printed.out and "fitting response and uplift models" in printed.err
    for row in ("ndcg@5", "qini", "uplift@20%", "popularity", "oracle"):
        assert row in printed.out

    assert main(["rank", "list"]) == 0
    assert capsys.readouterr().out.startswith("v1 ")
    assert main(["rank", "evaluate", "--version", "v1"]) == 0
    assert "uplift@20%" in capsys.readouterr().out

    pairs = pl.read_parquet(population / "pairs.parquet")
    busy = pairs.group_by("subject_id").len().sort("len", "subject_id", descending=[True, False])
    subject = busy["subject_id"][0]
    assert main(["rank", "explain", *_io(population), "--subject", subject]) == 0
    out = capsys.readouterr().out
    assert "ordered by model v1" in out and "take-up" in out and "the score" in out
    assert out.count("\n1. ") + out.startswith("1. ") == 1

    monkeypatch.setenv("ZHIDA_PERSONALISATION", "off")
    assert main(["rank", "explain", *_io(population), "--subject", subject]) == 0
    out = capsys.readouterr().out
    assert "rules only (not personalised)" in out and "take-up" not in out
    assert main(["rank", "explain", *_io(population), "--subject", subject, "--personalised"]) == 0
    assert "ordered by model v1" in capsys.readouterr().out

    monkeypatch.delenv("ZHIDA_PERSONALISATION")
    ranked = population / "ranked.parquet"
    assert main(["rank", "offers", *_io(population), "--out", str(ranked)]) == 0
    frame = pl.read_parquet(ranked)
    assert frame.height == pairs.height
    people = pl.col("subject_type").is_in(["resident", "enterprise"])
    assert frame.filter(pl.col("ranked") & people)["score"].null_count() == 0
    # A household's offers are ordered by the rules (the model reads no household profile).
    households = frame.filter(~people)
    assert households["score"].null_count() == households.height
    grants = frame.filter(~pl.col("ranked"))
    assert grants.height and grants["score"].null_count() == grants.height
    firsts = frame.filter(pl.col("rank") == 1)
    assert firsts.height == firsts["subject_id"].n_unique() == pairs["subject_id"].n_unique()
    match = ["match", "--population", str(population), "--policies", CATALOG, "--no-record"]
    capsys.readouterr()
    assert main([*match, "--rank", "--out", str(population / "m.parquet"), *AS_OF]) == 0
    assert "ranked the offers by model v1" in capsys.readouterr().out
    keys = ["subject_id", "policy_id"]
    again = pl.read_parquet(population / "m.ranked.parquet").sort(keys)
    assert again.select(*keys, "score", "rank").equals(
        frame.sort(keys).select(*keys, "score", "rank")
    )


def test_errors_are_one_line(population: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rank", "evaluate"]) == 1
    assert "no trained model" in capsys.readouterr().err
    argv = ["rank", "outcomes", "--population", str(population), "--pairs", "nope.parquet"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("zhida: error: pairs file nope.parquet does not exist")
    assert err.splitlines()[0] == "reading population and pairs ... failed"
    assert main(["rank", "explain", *_io(population), "--subject", "P999", "--rules-only"]) == 1
    assert "has no eligible or maybe offer" in capsys.readouterr().err
    assert main(["rank", "train", *_io(population), "--outcomes", "none.parquet"]) == 1
    assert "zhida rank outcomes" in capsys.readouterr().err
    assert main(["rank", "list"]) == 0
    assert "no models yet" in capsys.readouterr().out


def test_every_command_teaches_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("outcomes", "train", "evaluate", "explain"):
        assert main(["rank", command, "--help"]) == 0
        assert "Example" in capsys.readouterr().out
    assert main(["rank", "--help"]) == 0
    assert "zhida rank train" in capsys.readouterr().out


@pytest.mark.slow  # trains and measures the models
def test_demo_lines_train_measure_and_show_offers(
    population: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date

    from api.commands.rank_offers import demo_lines
    from profiles.schema import load_schema
    from rules.loader import load_catalog

    schema = load_schema()
    policies = load_catalog([Path(CATALOG)], schema).in_force(date(2026, 6, 30))
    matches = pl.read_parquet(population / "pairs.parquet")
    lines = demo_lines(matches, population, policies, schema, as_of=date(2026, 6, 30), seed=1)
    text = "\n".join(lines)
    assert "trained model v1" in text and "ndcg@5" in text and "uplift@20%" in text
    assert text.count("offer(s), ordered by model v1") == 3 and "the score" in text
    from tests.matcher.test_ranking_reasons import cites, forbidden_words

    words = forbidden_words(schema)
    reasons = [line for line in lines if line.startswith("     - ")]
    assert reasons and not [r for r in reasons if any(cites(r, w) for w in words)]
    assert "免申即享 granted, told first" in text
    monkeypatch.setenv("ZHIDA_PERSONALISATION", "off")
    lines = demo_lines(matches, population, policies, schema, as_of=date(2026, 6, 30), seed=1,
                       subjects=1)  # fmt: skip
    assert "ordered by rules only (not personalised)" in "\n".join(lines)


def test_delivery_priority_is_the_models_but_the_rules_for_who_switched_it_off(
    population: Path, tmp_path: Path
) -> None:
    """With a trained model, planning orders offers by its scores — except for a subject who
    switched personalised ranking off: theirs by the rules alone, as the summary says."""
    from datetime import date

    from core.db import get_engine, upgrade
    from core.settings import get_settings
    from matcher.ranking.order import rank_offers
    from notifier.priority import priority_of, run_priority
    from profiles.personalisation import PersonalisationStore
    from profiles.schema import load_schema
    from rules.loader import load_catalog

    assert main(["rank", "outcomes", *_io(population), "--seed", "3", "--share", "0.4"]) == 0
    assert main(["rank", "train", *_io(population), "--seed", "3", "--iterations", "30"]) == 0
    settings = get_settings()
    engine = get_engine(settings.database_url)
    upgrade(engine)
    as_of = date(2026, 6, 30)
    policies = load_catalog([Path(CATALOG)], load_schema()).in_force(as_of)
    by_id = {p.id: p for p in policies}
    pairs = pl.read_parquet(population / "pairs.parquet")
    busy = pairs.group_by("subject_id").len().filter(pl.col("len") >= 2).sort("subject_id")
    chooser, other = busy["subject_id"][0], busy["subject_id"][1]
    PersonalisationStore(engine).choose(chooser, "resident", personalised=False)

    ranking = run_priority(
        settings, population / "pairs.parquet", as_of, by_id,
        subjects=[chooser, other], population=population,
    )  # fmt: skip
    assert ranking.how == "model v1; rules only for 1 who switched personalisation off"
    theirs = pairs.filter(pl.col("subject_id") == chooser).with_columns(
        pl.col("status").cast(pl.String)
    )
    rules = priority_of(rank_offers(theirs, policies=policies, personalised=False))
    assert {k: v for k, v in ranking.priority.items() if k[0] == chooser} == rules
    mine = {k: v for k, v in ranking.priority.items() if k[0] == other}
    # the model's order as minus the rank, one place per offer (grants first in both orders)
    assert sorted(mine.values()) == [-float(r) for r in range(len(mine), 0, -1)]
    assert all(v < 0 for v in rules.values())


@pytest.mark.slow  # trains a model with the audit features
def test_an_audit_features_model_is_recorded_and_never_orders_offers(
    population: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (population / "outcomes.parquet").is_file():
        assert main(["rank", "outcomes", *_io(population), "--seed", "3"]) == 0
    argv = ["rank", "train", *_io(population), "--seed", "3", "--iterations", "20"]
    assert main([*argv, "--audit-features"]) == 0
    out = capsys.readouterr().out
    assert "for audits only" in out and "年龄" in out
    assert main(["rank", "list"]) == 0
    listed = capsys.readouterr().out.strip().splitlines()
    version = listed[-1].split()[0]
    assert listed[-1].endswith("audit only")
    pairs = pl.read_parquet(population / "pairs.parquet")
    subject = pairs["subject_id"][0]
    explain = ["rank", "explain", *_io(population), "--subject", subject, "--personalised"]
    assert main([*explain, "--version", version]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("zhida: error: model ") and "for audits only" in err[-1]
