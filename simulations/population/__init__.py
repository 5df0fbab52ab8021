"""Synthetic populations that look like Beijing: residents, enterprises, service events.

``generate_population`` writes ``residents.parquet``, ``enterprises.parquet`` and
``events.parquet``; ``summarise`` reads a directory back.  Sources: ``SOURCES.md``.
"""

from simulations.population.generate import (
    FILES,
    GenerationSpec,
    generate_population,
    with_unknowns,
)
from simulations.population.summary import PopulationSummary, summarise

__all__ = [
    "FILES",
    "GenerationSpec",
    "PopulationSummary",
    "generate_population",
    "summarise",
    "with_unknowns",
]
