"""Ranking: behaviour simulation, feature build, training, scoring with reasons — and the metrics.

One seeded world (default 50,000 residents and 5,000 firms, two campaigns pushing half the
offers).  Baseline in the same run: the popularity ranker (each policy's take-up among pushed
training offers), "trained" with one group-by and scored with one join.  Both the models and
popularity learn from both campaigns (for the models, each with the other as history, see
``matcher.ranking.model``).  The metric table —
NDCG@5 and uplift@20 % beside random, popularity and the oracle — is measured on the held-out
subjects' offers of the ranked modes (服务找人, 直达快享): 免申即享 grants are told first and
never scored.  The model reads citable features only; the same table for a model trained with
``--audit-features`` (protected and sensitive fields, for audits only) follows, so the cost of
leaving them out is measured, not assumed.

Run: ``.venv/bin/python -m bench.bench_rank [--residents N] [--seed S]``
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def main(argv: list[str] | None = None) -> None:
    import polars as pl

    from matcher.ranking.citable import tag_sensitivities
    from matcher.ranking.evaluate import evaluate, format_metrics
    from matcher.ranking.model import RANKED_MODES, TrainingParams, fit_models, prepare
    from matcher.ranking.order import rank_offers
    from simulations.behaviour import simulate_outcomes, simulate_world, true_propensities

    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)  # None: the command line (it used to be ignored)
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        started = time.perf_counter()
        result = fn()
        seconds[name] = round(time.perf_counter() - started, 2)
        return result

    world = timed(
        "world_generate_tag_match",
        lambda: simulate_world(
            residents=args.residents, enterprises=args.residents // 10, seed=args.seed
        ),
    )
    truth = timed(
        "behaviour_truth",
        lambda: true_propensities(world.pairs, world.profiles, world.policies, seed=args.seed),
    )
    timed("behaviour_outcomes_2_rounds",
          lambda: simulate_outcomes(truth, share=0.5, seed=args.seed, rounds=2))  # fmt: skip
    from profiles.tagging import load_tags

    tags = load_tags(schema=world.schema)
    tag_facts: dict[str, Any] = {
        "tag_names": {t.id: t.name_zh for t in tags},
        "tag_sensitivity": tag_sensitivities(tags, world.schema),
    }
    data = timed(
        "features_build",
        lambda: prepare(
            world.log, world.pairs, world.profiles, world.policies, world.schema, seed=args.seed,
            as_of=world.as_of, **tag_facts,
        ),
    )  # fmt: skip
    params = TrainingParams()
    model = timed("train_response_and_uplift", lambda: fit_models(data, seed=args.seed,
                                                                   params=params))  # fmt: skip
    ranked = timed(
        "score_rank_explain_all_offers",
        lambda: rank_offers(
            world.pairs, policies=world.policies, personalised=True, model=model,
            profiles=world.profiles, schema=world.schema, history=world.log, as_of=world.as_of,
        ),
    )  # fmt: skip
    timed("score_only_all_offers", lambda: model.take_up(data.x))
    timed(
        "rules_only_rank_all_offers",
        lambda: rank_offers(world.pairs, policies=world.policies, personalised=False),
    )
    rows = data.fitting()[1]
    popularity = timed(
        "baseline_popularity_train",
        lambda: (
            rows.filter(pl.col("pushed"))
            .group_by("policy_id")
            .agg(pl.col("applied").cast(pl.Float64).mean().alias("score"))
        ),
    )
    timed(
        "baseline_popularity_score_rank",
        lambda: (
            world.pairs.join(popularity, on="policy_id", how="left")
            .sort(["subject_id", "score"], descending=[False, True])
            .with_columns(pl.int_range(1, pl.len() + 1).over("subject_id").alias("rank"))
        ),
    )
    metrics = timed("evaluate", lambda: evaluate(model, data, seed=args.seed, truth=world.truth))
    audit_data = prepare(
        world.log, world.pairs, world.profiles, world.policies, world.schema, seed=args.seed,
        audit=True, as_of=world.as_of, **tag_facts,
    )  # fmt: skip
    audit_model = timed("train_audit_features", lambda: fit_models(audit_data, seed=args.seed,
                                                                   params=params))  # fmt: skip
    audit_metrics = evaluate(audit_model, audit_data, seed=args.seed, truth=world.truth)
    modes = {p.id: p.mode for p in world.policies}
    ranked_modes = world.pairs["policy_id"].replace_strict(modes).is_in(list(RANKED_MODES))
    print(
        json.dumps(
            {
                "residents": args.residents,
                "enterprises": args.residents // 10,
                "offers": world.pairs.height,
                "offers_ranked": int(ranked_modes.sum()),
                "grants_told_first_not_ranked": int((~ranked_modes).sum()),
                "features": len(model.spec.features),
                "features_audit": len(audit_model.spec.features),
                "training_offers": data.training_offers,  # every campaign's training subjects
                "trees_per_model": params.max_iter,
                "seconds": seconds,
                "ranked_rows": ranked.height,
                "metrics": {k: {m: round(v, 4) for m, v in d.items()} for k, d in metrics.items()},
                "metrics_audit_features": {
                    k: {m: round(v, 4) for m, v in d.items()} for k, d in audit_metrics.items()
                },
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    print(f"ranked modes ({', '.join(RANKED_MODES)}), citable features only:")
    for line in format_metrics(metrics):
        print(line)
    uncitable = "、".join(audit_model.spec.uncitable)
    print(f"audit only — also protected and sensitive fields ({uncitable}):")
    for line in format_metrics(audit_metrics):
        print(line)


if __name__ == "__main__":
    main()
