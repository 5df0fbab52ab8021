"""The behaviour model (true take-up of offers with and without a push; for grants, who knew
and who objected) and simulated worlds to test on."""

from simulations.behaviour._experiment import Experiment, run_experiment
from simulations.behaviour._propensity import (
    GRANT_OUTCOMES,
    OUTCOME_COLUMNS,
    SIMULATED_COLUMNS,
    TRUTH_COLUMNS,
    BehaviourParams,
    draw_outcomes,
    simulate_outcomes,
    true_propensities,
    with_uplift,
)
from simulations.behaviour._world import World, simulate_world

__all__ = [
    "GRANT_OUTCOMES",
    "OUTCOME_COLUMNS",
    "SIMULATED_COLUMNS",
    "TRUTH_COLUMNS",
    "BehaviourParams",
    "Experiment",
    "World",
    "draw_outcomes",
    "run_experiment",
    "simulate_outcomes",
    "simulate_world",
    "true_propensities",
    "with_uplift",
]
