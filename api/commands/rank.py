"""``zhida rank outcomes|train|evaluate|list|explain``: whom to tell what first, and why."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click

from api.commands.options import as_of_option

__all__ = ["demo_lines", "register"]

_PAIRS_HINT = "make one with `zhida match --population DIR --policies PATH --out FILE`"
_LOG_HINT = "make one with `zhida rank outcomes`"

_population = click.option(
    "--population", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Population directory (residents.parquet, enterprises.parquet, events.parquet).",
)  # fmt: skip
_pairs = click.option(
    "--pairs", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="Pairs file written by `zhida match --out`.",
)  # fmt: skip
_policies = click.option(
    "--policies", type=click.Path(path_type=Path), multiple=True,
    default=(Path(__file__).resolve().parents[2] / "rules" / "catalog",), show_default=False,
    help="Policy YAML file or catalog directory (repeatable; default: the built-in catalog).",
)  # fmt: skip
_seed = click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")


@contextmanager
def _step(what: str) -> Iterator[None]:
    """Say on stderr what is being done and how long it took (the progress of long steps)."""
    click.echo(f"{what} ...", err=True, nl=False)
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        click.echo(" failed", err=True)  # the error follows on its own line
        raise
    click.echo(f" {time.perf_counter() - started:.1f}s", err=True)


def _inputs(population: Path, pairs_file: Path, policies: tuple[Path, ...], as_of: date) -> Any:
    import polars as pl

    from matcher.ranking.inputs import read_frame, read_profiles
    from profiles.schema import load_schema
    from rules.loader import load_catalog

    schema = load_schema()
    catalog = load_catalog(policies, schema)
    pairs = read_frame(pairs_file, "pairs", ("subject_id", "policy_id", "status"), _PAIRS_HINT)
    if "subject_type" not in pairs.columns:
        pairs = pairs.with_columns(pl.lit("resident").alias("subject_type"))
    if "benefit" not in pairs.columns:
        pairs = pairs.with_columns(pl.lit(None, dtype=pl.Float64).alias("benefit"))
    profiles = read_profiles(population, schema, as_of=as_of)
    return schema, catalog.policies, pairs, profiles


def _registry() -> Any:
    from core.settings import get_settings
    from matcher.ranking.registry import ModelRegistry

    return ModelRegistry(get_settings().data_dir / "models")


@click.group("rank")
def rank_group() -> None:
    """Rank each subject's offers by predicted take-up, and find whom a push helps.

    \b
    The whole loop on simulated behaviour:
      zhida population generate --residents 20000 --enterprises 2000 --out pop/
      zhida match --population pop/ --policies rules/catalog/ --out pop/pairs.parquet
      zhida rank outcomes --population pop/ --pairs pop/pairs.parquet
      zhida rank train --population pop/ --pairs pop/pairs.parquet
      zhida rank evaluate
      zhida rank explain --population pop/ --pairs pop/pairs.parquet --subject P000000001
    ZHIDA_PERSONALISATION=off (or --rules-only) orders by the rules alone.
    """


@rank_group.command("outcomes")
@_population
@_pairs
@_policies
@as_of_option
@click.option(
    "--share", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
    help="Share of offers pushed at random in each campaign (the rest is the holdout).",
)  # fmt: skip
@click.option(
    "--rounds", type=click.IntRange(1, 20), default=2, show_default=True,
    help="Campaigns to simulate; the earlier ones are the history models learn from.",
)  # fmt: skip
@_seed
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Directory for outcomes.parquet and truth.parquet (default: the population's).",
)  # fmt: skip
def outcomes_cmd(
    population: Path,
    pairs: Path,
    policies: tuple[Path, ...],
    as_of: date,
    share: float,
    rounds: int,
    seed: int,
    out: Path | None,
) -> None:
    """Simulate campaigns with the behaviour model: who opened, applied, complained.

    \b
    Writes OUT/outcomes.parquet (round, subject_id, subject_type, policy_id, status, pushed,
    opened, applied, ignored, complained) and OUT/truth.parquet (the true propensities, for
    oracle metrics only — a real deployment never has them).
    Example:
      zhida rank outcomes --population pop/ --pairs pop/pairs.parquet --share 0.5 --seed 7
    """
    from simulations.behaviour import simulate_outcomes, true_propensities

    with _step("reading population and pairs"):
        _, policy_list, pair_frame, profiles = _inputs(population, pairs, policies, as_of)
    with _step(f"simulating {rounds} campaign(s) over {pair_frame.height:,} offers"):
        truth = true_propensities(pair_frame, profiles, policy_list, seed=seed)
        log = simulate_outcomes(truth, share=share, seed=seed, rounds=rounds)
    directory = out or population
    directory.mkdir(parents=True, exist_ok=True)
    log.write_parquet(directory / "outcomes.parquet")
    truth.write_parquet(directory / "truth.parquet")
    last = log.filter(log["round"] == rounds)

    def rate(frame: Any, column: str) -> str:
        return f"{float(frame[column].mean()):.1%}" if frame.height else "n/a"

    pushed, held = last.filter(last["pushed"]), last.filter(~last["pushed"])
    click.echo(
        f"wrote {directory / 'outcomes.parquet'} ({log.height:,} rows) and truth.parquet; "
        f"last campaign: take-up {rate(pushed, 'applied')} pushed vs {rate(held, 'applied')} "
        f"not pushed, {rate(pushed, 'complained')} of pushes complained about"
    )


def _print_metrics(metrics: dict[str, Any]) -> None:
    from matcher.ranking.evaluate import format_metrics

    for line in format_metrics(metrics):
        click.echo(line)


@rank_group.command("train")
@_population
@_pairs
@_policies
@as_of_option
@click.option(
    "--outcomes", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Outcome log (default: DIR/outcomes.parquet).",
)  # fmt: skip
@click.option(
    "--truth", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="True propensities for oracle metrics (default: DIR/truth.parquet if present).",
)  # fmt: skip
@click.option(
    "--test-share", type=click.FloatRange(0.05, 0.95), default=0.3, show_default=True,
    help="Share of subjects held out for evaluation.",
)  # fmt: skip
@click.option(
    "--sensitive/--no-sensitive", default=True, show_default=True,
    help="Use the fields the schema marks sensitive (income, disability, assistance).",
)  # fmt: skip
@click.option(
    "--iterations", type=click.IntRange(1, 2000), default=150, show_default=True,
    help="Boosting iterations (trees) per model.",
)  # fmt: skip
@_seed
def train_cmd(
    population: Path,
    pairs: Path,
    policies: tuple[Path, ...],
    as_of: date,
    outcomes: Path | None,
    truth: Path | None,
    test_share: float,
    sensitive: bool,
    iterations: int,
    seed: int,
) -> None:
    """Fit the response and uplift models on an outcome log and store them as a new version.

    \b
    The last campaign of the log is the target, earlier ones the history; a seeded share of
    subjects is held out and the metric table is measured on them and stored with the model.
    Example:
      zhida rank train --population pop/ --pairs pop/pairs.parquet --seed 7
    """
    from matcher.ranking.evaluate import evaluate
    from matcher.ranking.inputs import read_frame
    from matcher.ranking.model import TrainingParams, fit_models, prepare

    log_path = outcomes or population / "outcomes.parquet"
    with _step("reading population, pairs and outcomes"):
        schema, policy_list, pair_frame, profiles = _inputs(population, pairs, policies, as_of)
        log = read_frame(log_path, "outcome log", ("round", "pushed", "applied"), _LOG_HINT)
        truth_path = truth or population / "truth.parquet"
        truth_frame = (
            read_frame(truth_path, "truth", ("p_with", "uplift"), _LOG_HINT)
            if truth is not None or truth_path.is_file()
            else None
        )
    with _step("building features"):
        from profiles.tagging import load_tags

        tag_names = {t.id: t.name_zh for t in load_tags(schema=schema)}
        data = prepare(
            log, pair_frame, profiles, policy_list, schema,
            seed=seed, test_share=test_share, sensitive=sensitive, tag_names=tag_names,
        )  # fmt: skip
    params = TrainingParams(max_iter=iterations)
    with _step(f"fitting response and uplift models on {int(data.train.sum()):,} offers"):
        model = fit_models(data, seed=seed, params=params)
    with _step(f"evaluating on {int((~data.train).sum()):,} held-out offers"):
        metrics = evaluate(model, data, seed=seed, truth=truth_frame)
    info = _registry().save(
        model,
        seed=seed,
        data_hash=data.hash(),
        metrics=metrics,
        extra={
            "params": params.to_dict(),
            "as_of": as_of.isoformat(),
            "test_share": test_share,
            "sensitive": sensitive,
            "rows": data.rows.height,
        },
    )
    click.echo(f"model {info.version}: {info.features} features, saved in {info.path}")
    _print_metrics(metrics)


@rank_group.command("evaluate")
@click.option("--version", default=None, help="Model version (default: the latest).")
def evaluate_cmd(version: str | None) -> None:
    """Print a model's metric table, measured on its held-out subjects when it was trained.

    \b
    Order of offers — NDCG@5 of the response model vs random, popularity and the oracle;
    whom to push — Qini and uplift@20% of the uplift model vs the response model, random and
    the oracle.  "expected" rows score by the true propensities (simulation only).
    Example:
      zhida rank evaluate --version v3
    """
    _, info = _registry().load(version)
    click.echo(f"model {info.version}  created {info.created}  seed {info.seed}")
    _print_metrics(info.metrics)


@rank_group.command("list")
def list_cmd() -> None:
    """Every stored model version: when, seed, features, training data, NDCG@5 and Qini."""
    infos = _registry().list()
    if not infos:
        click.echo("no models yet; `zhida rank train` makes one")
    for info in infos:
        ndcg = info.metrics.get("ndcg@5", {}).get("model")
        qini = info.metrics.get("qini", {}).get("uplift")
        click.echo(
            f"{info.version}  {info.created}  seed {info.seed}  {info.features} features  "
            f"data {info.data_hash[:12]}  "
            f"ndcg@5 {ndcg if ndcg is None else round(ndcg, 4)}  "
            f"qini {qini if qini is None else round(qini, 4)}"
        )


@rank_group.command("explain")
@_population
@_pairs
@_policies
@as_of_option
@click.option("--subject", "subject_id", required=True, help="person_id or enterprise_id.")
@click.option("--version", default=None, help="Model version (default: the latest).")
@click.option(
    "--outcomes", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Outcome log for the subject's history (default: DIR/outcomes.parquet if present).",
)  # fmt: skip
@click.option(
    "--personalised/--rules-only", default=None,
    help="Rank by the model, or by the rules alone (default: ZHIDA_PERSONALISATION).",
)  # fmt: skip
@click.option("--reasons", type=click.IntRange(0, 10), default=3, show_default=True)
def explain_cmd(
    population: Path,
    pairs: Path,
    policies: tuple[Path, ...],
    as_of: date,
    subject_id: str,
    version: str | None,
    outcomes: Path | None,
    personalised: bool | None,
    reasons: int,
) -> None:
    """One subject's offers in order, each with its score and the reasons for it.

    \b
    Example:
      zhida rank explain --population pop/ --pairs pop/pairs.parquet --subject P000000042
      ZHIDA_PERSONALISATION=off zhida rank explain ... --subject P000000042
    """
    from core.errors import NotFoundError
    from core.settings import get_settings
    from matcher.ranking.inputs import read_frame
    from matcher.ranking.order import rank_offers
    from matcher.ranking.report import offer_lines

    if personalised is None:
        personalised = get_settings().personalised
    schema, policy_list, pair_frame, profiles = _inputs(population, pairs, policies, as_of)
    mine = pair_frame.filter(pair_frame["subject_id"] == subject_id)
    if mine.height == 0:
        raise NotFoundError(
            f"{subject_id!r} has no eligible or maybe offer in {pairs}; check the id, or "
            f"`zhida explain --subject {subject_id} --policy ID` for why not"
        )
    model = info = history = None
    if personalised:
        model, info = _registry().load(version)
        log_path = outcomes or population / "outcomes.parquet"
        if outcomes is not None or log_path.is_file():
            log = read_frame(log_path, "outcome log", ("round", "pushed", "applied"), _LOG_HINT)
            history = log.filter(log["subject_id"] == subject_id)
    ranked = rank_offers(
        mine, policies=policy_list, personalised=personalised, model=model,
        profiles=profiles, schema=schema, history=history, reasons=reasons,
    )  # fmt: skip
    titles = {p.id: p.title for p in policy_list}
    how = f"model {info.version}" if info is not None else "rules only (not personalised)"
    for line in offer_lines(ranked, titles, how=how):
        click.echo(line)


def rank_file(
    population: Path,
    pairs: Path,
    policies: tuple[Path, ...],
    as_of: date,
    out: Path,
    *,
    version: str | None = None,
    personalised: bool | None = None,
    reasons: int = 0,
) -> str:
    """Rank every subject's offers in ``pairs`` into ``out``; returns how they were ordered.

    Personalised ranking needs a trained model (``zhida rank train``); without one the error
    says so. ``reasons=0`` (scores only) is what a whole population wants.
    """
    from core.settings import get_settings
    from matcher.ranking.inputs import read_frame
    from matcher.ranking.order import rank_offers

    if personalised is None:
        personalised = get_settings().personalised
    schema, policy_list, pair_frame, profiles = _inputs(population, pairs, policies, as_of)
    model = info = history = None
    if personalised:
        model, info = _registry().load(version)
        log_path = population / "outcomes.parquet"
        if log_path.is_file():
            history = read_frame(log_path, "outcome log", ("round", "pushed", "applied"), _LOG_HINT)
    ranked = rank_offers(
        pair_frame, policies=policy_list, personalised=personalised, model=model,
        profiles=profiles, schema=schema, history=history, reasons=reasons,
    )  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    ranked.write_parquet(tmp)
    tmp.replace(out)
    return f"model {info.version}" if info is not None else "rules only (not personalised)"


@rank_group.command("offers")
@_population
@_pairs
@_policies
@as_of_option
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="Ranked offers: the pairs with score, uplift, rank (and reasons).",
)  # fmt: skip
@click.option("--version", default=None, help="Model version (default: the latest).")
@click.option(
    "--personalised/--rules-only", default=None,
    help="Rank by the model, or by the rules alone (default: ZHIDA_PERSONALISATION).",
)  # fmt: skip
@click.option(
    "--reasons", type=click.IntRange(0, 10), default=0, show_default=True,
    help="Reasons per offer (0: scores only, fastest for a whole population).",
)  # fmt: skip
def offers_cmd(
    population: Path, pairs: Path, policies: tuple[Path, ...], as_of: date, out: Path,
    version: str | None, personalised: bool | None, reasons: int,
) -> None:  # fmt: skip
    """Every subject's offers in order, with score and uplift, written to a Parquet file.

    \b
    Example:
      zhida rank offers --population pop/ --pairs pop/pairs.parquet --out ranked.parquet
    """
    how = rank_file(population, pairs, policies, as_of, out, version=version,
                    personalised=personalised, reasons=reasons)  # fmt: skip
    click.echo(f"ranked the offers of {pairs} by {how} → {out}")


def demo_lines(
    matches: Any,
    population: Path,
    policies: Any,
    schema: Any,
    *,
    as_of: date,
    seed: int,
    subjects: int = 3,
    personalised: bool | None = None,
) -> list[str]:
    """What ``zhida demo`` prints for ranking: the metric table and a few residents' offers.

    Simulates two campaigns over ``matches`` (a pairs frame) with the behaviour model, trains
    and stores a model version, measures it on held-out residents and firms, and orders the
    offers of the ``subjects`` residents with the most offers — by the model, or by the rules
    alone when ``personalised`` (default: ZHIDA_PERSONALISATION) is off.
    """
    import polars as pl

    from core.settings import get_settings
    from matcher.ranking.evaluate import format_metrics
    from matcher.ranking.inputs import read_profiles
    from matcher.ranking.order import rank_offers
    from matcher.ranking.report import offer_lines
    from simulations.behaviour import run_experiment

    if personalised is None:
        personalised = get_settings().personalised
    profiles = read_profiles(population, schema, as_of=as_of)
    started = time.perf_counter()
    experiment = run_experiment(matches, profiles, policies, schema, seed=seed)
    info = _registry().save(
        experiment.model, seed=seed, data_hash=experiment.data.hash(),
        metrics=experiment.metrics, extra={"as_of": as_of.isoformat(), "source": "demo"},
    )  # fmt: skip
    rows = experiment.data.rows
    lines = [
        f"simulated 2 campaigns over {matches.height:,} offers (half pushed at random); "
        f"trained model {info.version} on {int((~rows['held_out']).sum()):,} offers in "
        f"{time.perf_counter() - started:.1f}s; measured on "
        f"{int(rows['held_out'].sum()):,} offers of held-out subjects:",
        *format_metrics(experiment.metrics),
    ]
    residents = matches.filter(pl.col("subject_type") == "resident")
    busiest = (
        residents.group_by("subject_id").len().sort(["len", "subject_id"], descending=[True, False])
    )
    chosen = busiest["subject_id"].head(subjects).to_list()
    ranked = rank_offers(
        matches.filter(pl.col("subject_id").is_in(chosen)), policies=policies,
        personalised=personalised, model=experiment.model, profiles=profiles, schema=schema,
        history=experiment.log,
    )  # fmt: skip
    how = f"model {info.version}" if personalised else "rules only (not personalised)"
    return lines + offer_lines(ranked, {p.id: p.title for p in policies}, how=how)


def register(group: click.Group) -> None:
    group.add_command(rank_group)
