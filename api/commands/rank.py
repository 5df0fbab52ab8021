"""``zhida rank outcomes|train|evaluate|list|explain``: whom to tell what first, and why."""

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
    seed_option,
    step,
)
from api.commands.rank_models import evaluate_cmd, list_cmd, train_cmd
from api.commands.rank_offers import rank_file

__all__ = ["register"]


@click.group("rank")
def rank_group() -> None:
    """Order each subject's offers by what telling adds; 免申即享 grants always come first.

    \b
    The whole loop on simulated behaviour:
      zhida population generate --residents 20000 --enterprises 2000 --out pop/
      zhida match --population pop/ --policies rules/catalog/ --out pop/pairs.parquet
      zhida rank outcomes --population pop/ --pairs pop/pairs.parquet
      zhida rank train --population pop/ --pairs pop/pairs.parquet
      zhida rank evaluate
      zhida rank explain --population pop/ --pairs pop/pairs.parquet --subject P000000001
    ZHIDA_PERSONALISATION=off (or --rules-only) orders by the rules alone.  Reasons cite
    only ordinary fields, the policy and past behaviour, never age, gender, disability,
    income or assistance.
    """


# Training and measuring models is its own module; the group lists its commands alphabetically.
rank_group.add_command(train_cmd)
rank_group.add_command(evaluate_cmd)
rank_group.add_command(list_cmd)


@rank_group.command("outcomes")
@population_option
@pairs_option
@policies_option
@as_of_option
@click.option(
    "--share", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
    help="Share of offers pushed at random in each campaign (the rest is the holdout).",
)  # fmt: skip
@click.option(
    "--rounds", type=click.IntRange(1, 20), default=2, show_default=True,
    help="Campaigns to simulate; the earlier ones are the history models learn from.",
)  # fmt: skip
@seed_option
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
    opened, applied, ignored, complained, and for 免申即享 grants — which nobody applies for,
    so applied is empty — acknowledged and objected) and OUT/truth.parquet (the true
    propensities, for oracle metrics only — a real deployment never has them).
    Example:
      zhida rank outcomes --population pop/ --pairs pop/pairs.parquet --share 0.5 --seed 7
    """
    from simulations.behaviour import simulate_outcomes, true_propensities

    with step("reading population and pairs"):
        _, policy_list, pair_frame, profiles = read_inputs(population, pairs, policies, as_of)
    from matcher.ranking.inputs import with_profiles

    pair_frame = with_profiles(pair_frame)  # households have no behaviour of their own to draw
    with step(f"simulating {rounds} campaign(s) over {pair_frame.height:,} offers"):
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
        f"not pushed, {rate(pushed, 'complained')} of pushes complained about; grants: "
        f"{rate(last.drop_nulls('acknowledged'), 'acknowledged')} acknowledged, "
        f"{rate(last.drop_nulls('objected'), 'objected')} objected to"
    )


@rank_group.command("explain")
@population_option
@pairs_option
@policies_option
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
    schema, policy_list, pair_frame, profiles = read_inputs(population, pairs, policies, as_of)
    mine = pair_frame.filter(pair_frame["subject_id"] == subject_id)
    if mine.height == 0:
        raise NotFoundError(
            f"{subject_id!r} has no eligible or maybe offer in {pairs}; check the id, or "
            f"`zhida explain --subject {subject_id} --policy ID` for why not"
        )
    model = info = history = None
    if personalised:
        model, info = registry().load_for_ordering(version)
        log_path = outcomes or population / "outcomes.parquet"
        if outcomes is not None or log_path.is_file():
            log = read_frame(log_path, "outcome log", ("round", "pushed", "applied"), LOG_HINT)
            history = log.filter(log["subject_id"] == subject_id)
    ranked = rank_offers(
        mine, policies=policy_list, personalised=personalised, model=model,
        profiles=profiles, schema=schema, history=history, reasons=reasons, as_of=as_of,
    )  # fmt: skip
    titles = {p.id: p.title for p in policy_list}
    how = f"model {info.version}" if info is not None else "rules only (not personalised)"
    for line in offer_lines(ranked, titles, how=how):
        click.echo(line)


@rank_group.command("offers")
@population_option
@pairs_option
@policies_option
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


@rank_group.command("card")
@click.option(
    "--version", default=None,
    help="Card of this model version (default: the one in use — the newest that may order "
    "offers).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, default=False, help="Print the card as JSON.")
def card_cmd(version: str | None, as_json: bool) -> None:
    """The algorithm published (算法公示): what ranking is for, the inputs it uses and never uses,
    how a resident switches it off, and the model in use with its metrics and fairness figures.

    \b
    Generated from the model registry each time (the same as the page /console/algorithm),
    so it cannot drift from the model that orders offers.  With no model that may order
    offers, or with ZHIDA_PERSONALISATION=off, it says offers are ordered by the rules alone.
    Example:
      zhida rank card
      zhida rank card --json > card.json
    """
    import json

    from core.settings import get_settings
    from matcher.ranking import card_for, card_lines
    from profiles.schema import load_schema

    card = card_for(
        registry(), load_schema(), personalised=get_settings().personalised, version=version
    )
    if as_json:
        click.echo(json.dumps(card.to_dict(), ensure_ascii=False, indent=2))
        return
    for line in card_lines(card):
        click.echo(line)


def register(group: click.Group) -> None:
    group.add_command(rank_group)
