"""``zhida rank train|evaluate|list``: fit, measure and list the stored ranking model versions."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from api.commands.options import as_of_option
from api.commands.rank_inputs import (
    LOG_HINT,
    pairs_option,
    policies_option,
    population_option,
    read_inputs,
    registry,
    save_model,
    seed_option,
    step,
)

__all__ = ["evaluate_cmd", "list_cmd", "print_metrics", "train_cmd"]


def print_metrics(metrics: dict[str, Any]) -> None:
    from matcher.ranking.evaluate import format_metrics

    for line in format_metrics(metrics):
        click.echo(line)


@click.command("train")
@population_option
@pairs_option
@policies_option
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
    "--audit-features", is_flag=True, default=False,
    help="Also read protected and sensitive fields (age, gender, disability, income, "
    "assistance) — for audits only: such a model never orders offers or pushes.",
)  # fmt: skip
@click.option(
    "--iterations", type=click.IntRange(1, 2000), default=150, show_default=True,
    help="Boosting iterations (trees) per model.",
)  # fmt: skip
@seed_option
def train_cmd(
    population: Path,
    pairs: Path,
    policies: tuple[Path, ...],
    as_of: date,
    outcomes: Path | None,
    truth: Path | None,
    test_share: float,
    audit_features: bool,
    iterations: int,
    seed: int,
) -> None:
    """Fit the response and uplift models on an outcome log and store them as a new version.

    \b
    The last campaign of the log is the target, earlier ones the history; a seeded share of
    subjects is held out and the metric table is measured on them and stored with the model.
    Only 服务找人 and 直达快享 offers are learnt from (免申即享 grants are told first, never
    ranked), and only fields that may be cited in a reason are read: ordinary profile fields,
    the policy, service-history tags and past behaviour.  --audit-features adds protected and
    sensitive ones to measure what they would change; that version is marked for audits and
    never orders offers.
    Example:
      zhida rank train --population pop/ --pairs pop/pairs.parquet --seed 7
    """
    from matcher.ranking.evaluate import evaluate
    from matcher.ranking.inputs import read_frame
    from matcher.ranking.model import TrainingParams, fit_models, prepare

    log_path = outcomes or population / "outcomes.parquet"
    with step("reading population, pairs and outcomes"):
        schema, policy_list, pair_frame, profiles = read_inputs(population, pairs, policies, as_of)
        log = read_frame(log_path, "outcome log", ("round", "pushed", "applied"), LOG_HINT)
        truth_path = truth or population / "truth.parquet"
        truth_frame = (
            read_frame(truth_path, "truth", ("p_with", "uplift"), LOG_HINT)
            if truth is not None or truth_path.is_file()
            else None
        )
    with step("building features"):
        from matcher.ranking.citable import tag_sensitivities
        from profiles.tagging import load_tags

        tags = load_tags(schema=schema)
        from matcher.ranking.inputs import with_profiles

        data = prepare(
            log, with_profiles(pair_frame), profiles, policy_list, schema,
            seed=seed, test_share=test_share, audit=audit_features,
            tag_names={t.id: t.name_zh for t in tags},
            tag_sensitivity=tag_sensitivities(tags, schema), as_of=as_of,
        )  # fmt: skip
    params = TrainingParams(max_iter=iterations)
    with step(f"fitting response and uplift models on {data.training_offers:,} offers"):
        model = fit_models(data, seed=seed, params=params)
    with step(f"evaluating on {int((~data.train).sum()):,} held-out offers"):
        metrics = evaluate(model, data, seed=seed, truth=truth_frame)
    with step("measuring exposure by group in its top 20 % of held-out offers"):
        info = save_model(
            model, data, profiles, schema, seed=seed, metrics=metrics, as_of=as_of,
            extra={"params": params.to_dict(), "test_share": test_share, "rows": data.rows.height},
        )  # fmt: skip
    click.echo(f"model {info.version}: {info.features} features, saved in {info.path}")
    if info.audit:
        click.echo(
            f"model {info.version} reads {'、'.join(model.spec.uncitable)}: for audits only, it "
            "never orders offers or pushes"
        )
    print_metrics(metrics)


@click.command("evaluate")
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
    _, info = registry().load(version)
    click.echo(f"model {info.version}  created {info.created}  seed {info.seed}")
    print_metrics(info.metrics)


@click.command("list")
def list_cmd() -> None:
    """Every stored model version: when, seed, features, training data, NDCG@5 and Qini;
    ``audit only`` marks a version trained with --audit-features (it never orders offers)."""
    infos = registry().list()
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
            + ("  audit only" if info.audit else "")
        )
