"""The population over time (``zhida simulate timeline``): life events, matching, pushes, take-up.

``dynamics`` moves the population a day at a time from documented rates, ``engine`` tags,
matches and plans pushes each day, ``outcomes`` draws what people do with and without a push,
``montecarlo`` repeats it over seeds with confidence intervals.
"""

from simulations.timeline._dynamics import RATES, Rates, State
from simulations.timeline._engine import SeedRun, add_months, load_state, run_seed
from simulations.timeline._montecarlo import (
    FUNNEL,
    Timeline,
    mean_ci,
    policies_in_horizon,
    simulate_timeline,
    summary_lines,
)
from simulations.timeline._outcomes import (
    ARMS,
    CHANNELS,
    METRICS,
    Delays,
    daily_metrics,
    spell_outcomes,
)

__all__ = [
    "ARMS",
    "CHANNELS",
    "FUNNEL",
    "METRICS",
    "RATES",
    "Delays",
    "Rates",
    "SeedRun",
    "State",
    "Timeline",
    "add_months",
    "daily_metrics",
    "load_state",
    "mean_ci",
    "policies_in_horizon",
    "run_seed",
    "simulate_timeline",
    "spell_outcomes",
    "summary_lines",
]
