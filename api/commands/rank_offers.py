"""Ranking offers for other commands: a whole pairs file (``zhida rank offers``, ``zhida match
--rank``) and the ranking part of what ``zhida demo`` prints."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from api.commands.rank_inputs import LOG_HINT, read_inputs, registry, save_model

__all__ = ["demo_lines", "rank_file"]


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
    schema, policy_list, pair_frame, profiles = read_inputs(population, pairs, policies, as_of)
    model = info = history = None
    if personalised:
        model, info = registry().load_for_ordering(version)
        log_path = population / "outcomes.parquet"
        if log_path.is_file():
            history = read_frame(log_path, "outcome log", ("round", "pushed", "applied"), LOG_HINT)
    ranked = rank_offers(
        pair_frame, policies=policy_list, personalised=personalised, model=model,
        profiles=profiles, schema=schema, history=history, reasons=reasons, as_of=as_of,
    )  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    ranked.write_parquet(tmp)
    tmp.replace(out)
    return f"model {info.version}" if info is not None else "rules only (not personalised)"


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
    from matcher.ranking.inputs import read_profiles, with_profiles
    from matcher.ranking.order import rank_offers
    from matcher.ranking.report import offer_lines
    from simulations.behaviour import run_experiment

    if personalised is None:
        personalised = get_settings().personalised
    profiles = read_profiles(population, schema, as_of=as_of)
    matches = with_profiles(matches)  # households' offers: told to the head, by the rules
    started = time.perf_counter()
    experiment = run_experiment(matches, profiles, policies, schema, seed=seed, as_of=as_of)
    info = save_model(
        experiment.model, experiment.data, profiles, schema, seed=seed,
        metrics=experiment.metrics, as_of=as_of,
        extra={"source": "demo", "rows": experiment.data.rows.height},
    )  # fmt: skip
    rows = experiment.data.rows
    grants = {p.id for p in policies if p.mode == "auto_grant"}
    told_first = int(matches["policy_id"].is_in(list(grants)).sum())
    lines = [
        f"simulated 2 campaigns over {matches.height:,} offers (half pushed at random); "
        f"{told_first:,} 免申即享 grants are told first and never ranked; trained model "
        f"{info.version} on {int((~rows['held_out']).sum()):,} 服务找人/直达快享 offers in "
        f"{time.perf_counter() - started:.1f}s, reading no protected or sensitive field; "
        f"measured on {int(rows['held_out'].sum()):,} offers of held-out subjects:",
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
        history=experiment.log, as_of=as_of,
    )  # fmt: skip
    how = f"model {info.version}" if personalised else "rules only (not personalised)"
    return lines + offer_lines(ranked, {p.id: p.title for p in policies}, how=how)
