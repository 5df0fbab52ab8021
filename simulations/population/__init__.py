"""Synthetic populations that look like Beijing: residents, enterprises, service events.

``generate_population`` writes ``residents.parquet``, ``enterprises.parquet`` and
``events.parquet``; ``summarise`` reads a directory back.  Sources: ``SOURCES.md``.
"""

from simulations.population._enterprises import generate_enterprises
from simulations.population._generate import (
    FILES,
    GenerationSpec,
    generate_population,
    with_unknowns,
)
from simulations.population._residents import generate_residents
from simulations.population._summary import PopulationSummary, summarise

__all__ = [
    "FILES",
    "GenerationSpec",
    "PopulationSummary",
    "generate_enterprises",
    "generate_population",
    "generate_residents",
    "summarise",
    "with_unknowns",
]
