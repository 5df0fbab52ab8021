"""Rendering a population summary in the terminal (rich tables)."""

from __future__ import annotations

import polars as pl
from rich.console import Console
from rich.table import Table

from simulations.population import PopulationSummary

__all__ = ["print_summary"]


def _table(title: str, frame: pl.DataFrame, limit: int = 16) -> Table:
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(column, justify="right" if frame[column].dtype.is_numeric() else "left")
    for row in frame.head(limit).iter_rows():
        table.add_row(*(f"{v:.1%}" if isinstance(v, float) and v <= 1 else str(v) for v in row))
    return table


def print_summary(s: PopulationSummary, console: Console | None = None) -> None:
    console = console or Console()
    console.print(
        f"[bold]{s.residents:,}[/] residents, [bold]{s.enterprises:,}[/] enterprises, "
        f"[bold]{s.events:,}[/] service events; Beijing hukou {s.hukou_beijing_share:.1%}; "
        "monthly income p10/p50/p90 "
        + " / ".join(f"{v:,.0f}" for v in s.income_quantiles.values())
        + " CNY"
    )
    console.print(_table("Residents by district", s.by_district))
    console.print(_table("Age bands", s.age_bands))
    console.print(_table("Employment", s.employment))
    if s.household_sizes is not None and s.compositions is not None:
        console.print(
            f"[bold]{s.households or 0:,}[/] households, "
            f"{s.residents / max(s.households or 0, 1):.2f} residents each"
            + (f"; [bold]{s.employments:,}[/] employments" if s.employments is not None else "")
        )
        console.print(_table("Household sizes", s.household_sizes))
        console.print(_table("Household compositions", s.compositions))
    if s.elderly_living is not None:
        console.print(_table("How residents aged 60+ live", s.elderly_living))
    console.print(_table("Social assistance (residents)", s.assistance))
    console.print(_table("Enterprises by size class", s.size_classes))
    console.print(_table("Service events by item", s.events_by_item, limit=25))
    console.print(_table("Unknown values", s.unknown_shares, limit=25))
