"""Ranking: features, response and uplift models, explanations, versions, the order of offers.

``rank_offers`` is the entry point (personalised or rules-only): 免申即享 grants first and never
scored, then 服务找人 and 直达快享 offers by the uplift of telling.  ``prepare``, ``fit_models``
and ``evaluate`` train and measure models on outcome logs — on citable features only
(``citable``) unless for an audit; ``ModelRegistry`` stores versions and never hands an audit
version out to order offers.
"""

from matcher.ranking.card import ModelCard, card_for, card_lines, model_card
from matcher.ranking.citable import ITEM_SENSITIVITY, is_citable, tag_sensitivities
from matcher.ranking.evaluate import METRIC_ROWS, evaluate, format_metrics
from matcher.ranking.explain import (
    MODE_LABELS,
    Reason,
    describe,
    probability_parts,
    reason_texts,
    top_reasons,
)
from matcher.ranking.exposure import held_out_exposure
from matcher.ranking.features import (
    Feature,
    FeatureSpec,
    build_features,
    fit_feature_spec,
    history_counts,
)
from matcher.ranking.metrics import ndcg_at_k, qini, uplift_at
from matcher.ranking.model import (
    RANKED_MODES,
    AuditModelError,
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
    "ITEM_SENSITIVITY",
    "METRIC_ROWS",
    "MODE_LABELS",
    "RANKED_MODES",
    "RANKED_SCHEMA",
    "AuditModelError",
    "Feature",
    "FeatureSpec",
    "ModelCard",
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
    "card_for",
    "card_lines",
    "describe",
    "evaluate",
    "fit_ensemble",
    "fit_feature_spec",
    "fit_models",
    "format_metrics",
    "from_sklearn",
    "held_out_exposure",
    "held_out_subjects",
    "history_counts",
    "is_citable",
    "model_card",
    "ndcg_at_k",
    "offer_lines",
    "policy_frame",
    "prepare",
    "probability_parts",
    "qini",
    "rank_offers",
    "reason_texts",
    "tag_sensitivities",
    "top_reasons",
    "uplift_at",
]
