"""Rules: policies, the rule language, the compiler to polars, the explainer, versions."""

# First, before anything imports rule-engine: importing grammar_tables installs its cached
# parser tables (see that module).
from rules import grammar_tables  # noqa: F401
from rules.compiler import compile_rule
from rules.errors import (
    EvaluationTimeLimitError,
    PolicyError,
    PositionedRuleError,
    RuleSyntaxError,
    RuleTypeError,
)
from rules.evaluator import evaluate, evaluate_benefit
from rules.explainer import Clause, Explanation, Settle, explain
from rules.language import Rule, parse_rule
from rules.loader import Catalog, CatalogError, load_catalog, load_policy_text
from rules.policy import Policy

__all__ = [
    "Catalog",
    "CatalogError",
    "Clause",
    "EvaluationTimeLimitError",
    "Explanation",
    "Policy",
    "PolicyError",
    "PositionedRuleError",
    "Rule",
    "RuleSyntaxError",
    "RuleTypeError",
    "Settle",
    "compile_rule",
    "evaluate",
    "evaluate_benefit",
    "explain",
    "load_catalog",
    "load_policy_text",
    "parse_rule",
]
