"""Ranking: features, response and uplift models, explanations, versions, the order of offers.

``rank_offers`` is the entry point (personalised or rules-only); ``prepare``, ``fit_models``
and ``evaluate`` train and measure models on outcome logs; ``ModelRegistry`` stores versions.
"""

from matcher.ranking.evaluate import METRIC_ROWS, evaluate, format_metrics
from matcher.ranking.explain import MODE_LABELS, Reason, describe, reason_texts, top_reasons
from matcher.ranking.features import (
    Feature,
    FeatureSpec,
    build_features,
    fit_feature_spec,
    history_counts,
)
from matcher.ranking.metrics import ndcg_at_k, qini, uplift_at
from matcher.ranking.model import (
    RankingModel,
    TrainingData,
    TrainingParams,
    fit_ensemble,
    fit_models,
    held_out_subjects,
    prepare,
)
from matcher.ranking.order import RANKED_SCHEMA, rank_offers
from matcher.ranking.policies import annual_benefit, policy_frame
from matcher.ranking.registry import ModelInfo, ModelRegistry, ModelStoreError
from matcher.ranking.report import offer_lines
from matcher.ranking.trees import TreeEnsemble, from_sklearn

__all__ = [
    "METRIC_ROWS",
    "MODE_LABELS",
    "RANKED_SCHEMA",
    "Feature",
    "FeatureSpec",
    "ModelInfo",
    "ModelRegistry",
    "ModelStoreError",
    "RankingModel",
    "Reason",
    "TrainingData",
    "TrainingParams",
    "TreeEnsemble",
    "annual_benefit",
    "build_features",
    "describe",
    "evaluate",
    "fit_ensemble",
    "fit_feature_spec",
    "fit_models",
    "format_metrics",
    "from_sklearn",
    "held_out_subjects",
    "history_counts",
    "ndcg_at_k",
    "offer_lines",
    "policy_frame",
    "prepare",
    "qini",
    "rank_offers",
    "reason_texts",
    "top_reasons",
    "uplift_at",
]
