"""Rendering a calibration report in the terminal: each target beside the population's figures."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from simulations.population import CalibrationReport, CalibrationRow

__all__ = ["print_calibration"]


def _gap(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1%}"


def _status(row: CalibrationRow, loosen: float) -> str:
    within = row.within(loosen)
    if within is None:
        return "no weights"
    if not row.target.verified:
        return "(not checked)"
    return "ok" if within else "[red]OUTSIDE[/]"


def print_calibration(
    report: CalibrationReport, console: Console | None = None, *, loosen: float = 1.0
) -> None:
    """One row per target: role, target, weighted, unweighted (scaled), gaps, tolerance."""
    console = console or Console()
    table = Table(
        title="Calibration: Beijing's totals (targets.yaml) beside the population's figures",
        title_justify="left",
    )
    for name in ("target", "role", "year", "official", "weighted", "gap", "unweighted*", "gap*"):
        table.add_column(name, justify="left" if name in ("target", "role") else "right")
    table.add_column("tolerance", justify="right")
    table.add_column("status")
    table.add_column("note")
    for row in report.rows:
        t = row.target
        table.add_row(
            t.id,
            t.role,
            str(t.year),
            f"{t.value:,.0f}",
            "—" if row.weighted is None else f"{row.weighted:,.0f}",
            _gap(row.gap),
            f"{row.unweighted:,.0f}",
            _gap(row.unweighted_gap),
            f"±{t.tolerance * loosen:.0%}",
            _status(row, loosen),
            row.note,
        )
    console.print(table)
    console.print(
        "* unweighted: the sample count times the entity's total over its sample size "
        "(what the figure would be without calibration). Held-out targets are never fitted; "
        "unverified ones are shown, never fitted and never checked."
    )
    for name, units in report.units.items():
        effect = report.design_effects.get(name)
        spread = report.spreads.get(name)
        if effect is None or spread is None:
            console.print(f"{name}s: {units:,} in the sample, no weights")
            continue
        console.print(
            f"{name}s: {units:,} in the sample; weights' max/min {spread:.2f} (limit 20), "
            f"design effect {effect:.3f} (effective sample {units / effect:,.0f})"
        )
