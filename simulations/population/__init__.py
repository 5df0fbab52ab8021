"""Synthetic populations that look like Beijing: residents, enterprises, service events.

``generate_population`` writes ``residents.parquet``, ``enterprises.parquet`` and
``events.parquet``; ``summarise`` reads a directory back.  Sources: ``SOURCES.md``.
``load_targets`` reads Beijing's official totals (``targets.yaml``), ``with_weights`` fits the
weights to them and ``calibration_report`` sets each target beside the weighted figure.
"""

from simulations.population._calibrate import (
    CalibrationError,
    CalibrationReport,
    CalibrationRow,
    with_weights,
)
from simulations.population._calibrate import report_for as calibration_report
from simulations.population._enterprises import generate_enterprises
from simulations.population._generate import (
    FILES,
    GenerationSpec,
    generate_population,
    with_unknowns,
)
from simulations.population._residents import generate_residents
from simulations.population._summary import PopulationSummary, summarise
from simulations.population._targets import DEFAULT_TARGETS, Target, TargetsError, load_targets

__all__ = [
    "DEFAULT_TARGETS",
    "FILES",
    "CalibrationError",
    "CalibrationReport",
    "CalibrationRow",
    "GenerationSpec",
    "PopulationSummary",
    "Target",
    "TargetsError",
    "calibration_report",
    "generate_enterprises",
    "generate_population",
    "generate_residents",
    "load_targets",
    "summarise",
    "with_unknowns",
    "with_weights",
]
