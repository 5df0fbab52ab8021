"""``zhida demo``: the whole job on the embedded default (SQLite under the data directory,
in-process workers), end to end, in the order of the README's "What make demo does".

Database → synthetic population → tags → policy catalog → match → run diff, delivery and the
push funnel → offers with their reasons → overlap check → fairness → ranking → the same run in
shards → a draft simulated before it is issued → the population over time → console users →
the API in use.  The longer steps are :mod:`api.commands.demo_steps` and
:mod:`api.commands.demo_api`; this module runs them in order and prints the headings.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import click

from api.commands.options import as_of_option

__all__ = ["register"]

CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"


@click.command("demo")
@click.option("--residents", type=int, default=50_000, show_default=True)
@click.option("--enterprises", type=int, default=5_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@as_of_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the demo's files (default: $ZHIDA_DATA_DIR/demo).",
)
def demo_cmd(residents: int, enterprises: int, seed: int, as_of: date, out: Path | None) -> None:
    """Run Zhida end to end on a synthetic Beijing population and print what it found."""
    import polars as pl
    from rich.console import Console
    from rich.rule import Rule as Heading
    from rich.table import Table

    from api.commands.population_view import print_summary
    from core.db import get_engine, upgrade
    from core.settings import get_settings
    from matcher.batch import write_pairs
    from matcher.population import EventTagger, scan_population
    from matcher.units import PAIRS_SCHEMA, match_units
    from profiles.schema import load_schema
    from rules.loader import load_catalog
    from simulations.population import GenerationSpec, generate_population, summarise

    console = Console()
    settings = get_settings()
    out = out or settings.data_dir / "demo"
    population_dir = out / "population"

    console.print(Heading("1. Database"))
    engine = get_engine()
    revision = upgrade(engine)
    console.print(f"{engine.url.render_as_string(hide_password=True)} at revision {revision}")

    console.print(Heading("2. Synthetic population"))
    started = time.perf_counter()
    with console.status("generating residents, enterprises and service events…"):
        generate_population(
            GenerationSpec(residents, enterprises, seed=seed, as_of=as_of), population_dir
        )
    console.print(f"generated in {time.perf_counter() - started:.1f}s into {population_dir}")
    print_summary(summarise(population_dir), console)

    console.print(Heading("3. Tags from service history"))
    from profiles.tagging import compute_tags, load_tags

    library = load_tags(schema=load_schema())
    tag_counts = []
    for name in ("resident", "enterprise"):
        computed = compute_tags(
            pl.scan_parquet(population_dir / f"{name}s.parquet"),
            pl.scan_parquet(population_dir / "events.parquet"),
            library,
            entity=load_schema().entity(name),
            as_of=as_of,
        ).collect()
        tag_counts += computed.explode("tags").drop_nulls("tags")["tags"].value_counts().rows()
    console.print(
        f"{len(library)} tags; "
        + ", ".join(f"{t} {n:,}" for t, n in sorted(tag_counts, key=lambda r: -r[1]))
    )

    console.print(Heading("4. Policy catalog"))
    schema = load_schema()
    catalog = load_catalog([CATALOG], schema)
    in_force = catalog.in_force(as_of)
    modes = pl.DataFrame({"mode": [p.mode for p in in_force]})["mode"].value_counts()
    console.print(
        f"{len(catalog.policies)} policies validated; {len(in_force)} in force on {as_of} "
        f"({', '.join(f'{n} {m}' for m, n in modes.sort('mode').rows())}); "
        f"catalog hash {catalog.content_hash[:12]}"
    )

    console.print(Heading("5. Match"))
    started = time.perf_counter()
    matches_path = out / "matches.parquet"
    tagger = EventTagger.for_population(population_dir, schema, as_of=as_of)
    write_pairs(
        match_units(
            scan_population(population_dir, schema), in_force, schema, as_of=as_of, tagger=tagger
        ),
        matches_path,
        schema=PAIRS_SCHEMA,
    )
    matches = pl.read_parquet(matches_path)
    console.print(
        f"{matches.height:,} matches ({(matches['status'] == 'eligible').sum():,} eligible, "
        f"{(matches['status'] == 'maybe').sum():,} maybe) in "
        f"{time.perf_counter() - started:.2f}s → {matches_path}"
    )
    titles = {p.id: p.title for p in catalog.policies}
    modes_by_id = {p.id: p.mode for p in catalog.policies}
    periods = {p.id: p.benefit_period or "" for p in catalog.policies}
    per_policy = (
        matches.group_by("policy_id")
        .agg(
            (pl.col("status") == "eligible").sum().alias("eligible"),
            (pl.col("status") == "maybe").sum().alias("maybe"),
            pl.col("benefit").filter(pl.col("status") == "eligible").sum().alias("cost"),
        )
        .sort("eligible", descending=True)
    )
    sources = {p.id: p.provenance or "—" for p in catalog.policies}
    table = Table(title="Reach and cost per policy (eligible only)", title_justify="left")
    for column in ("policy", "mode", "eligible", "maybe", "cost per period (CNY)", "source"):
        table.add_column(column, justify="left" if column in ("policy", "source") else "right")
    for pid, eligible, maybe, cost in per_policy.rows():
        cost_text = f"{cost:,.0f} / {periods[pid]}" if cost else "—"
        table.add_row(
            titles[pid], modes_by_id[pid], f"{eligible:,}", f"{maybe:,}", cost_text, sources[pid]
        )
    console.print(table)
    console.print(
        "source: cited (the legal text) or modelled (some condition or amount stands in for one "
        "the text or the schema does not give; each policy's provenance_note says which)"
    )

    console.print(Heading("6. What changed since last month (the run diff)"))
    _print_run_diff(console, population_dir, catalog, schema, as_of, matches_path, out)

    from api.commands import demo_steps

    console.print(Heading("6b. Delivery: grants, invitations and notices (推送)"))
    demo_steps.delivery_step(console, population_dir, catalog, seed=seed)
    console.print("Of the offers due, who was planned and who was reached (fairness funnel):")
    demo_steps.funnel_step(console, population_dir, schema, as_of=as_of)

    console.print(Heading("6c. Whose benefit, who is told: a household once, a child's guardian"))
    from api.commands.demo_units import units_step

    units_step(console, matches, population_dir, catalog)

    console.print(Heading("7. Offers and their reasons"))
    _print_offers(console, matches, population_dir, catalog, as_of)

    console.print(Heading("8. Overlap check (查重)"))
    from rules.analysis import overlaps
    from rules.language import parse_rule

    for audience in ("resident", "enterprise"):
        entity = schema.entity(audience)
        rules = [
            (p.id, parse_rule(p.eligibility, entity)) for p in in_force if p.audience == audience
        ]
        findings = overlaps(rules)
        console.print(f"{audience}: {len(findings)} finding(s) among {len(rules)} policies")
        for f in findings[:4]:
            console.print(
                f"  {f.kind}: "
                + (" ⊆ " if f.kind == "contained" else " ~ ").join(titles[p] for p in f.policies)
            )
    console.print(Heading("9. Fairness as coverage (防范算法歧视)"))
    _print_fairness(console, out, population_dir, catalog, schema, as_of, matches, residents,
                    enterprises, seed)  # fmt: skip

    console.print(Heading("10. Ranking: whom to tell what first (排序与增益)"))
    from matcher.units import told_pairs

    # Whom to tell what first is about people: a household's offer is its head's to act on.
    demo_steps.ranking_step(
        console, told_pairs(matches), population_dir, in_force, schema, as_of=as_of, seed=seed
    )

    console.print(Heading("11. The same run in shards (分片, for a province)"))
    demo_steps.sharding_step(console, population_dir, catalog, matches_path, out, as_of=as_of)

    console.print(Heading("12. Simulating a draft before it is issued (政策推演)"))
    demo_steps.simulation_step(console, population_dir, CATALOG, out, schema, as_of=as_of)

    console.print(Heading("13. The population over time, with and without push (推演)"))
    demo_steps.timeline_step(console, catalog, schema, out, as_of=as_of, seed=seed)

    console.print(Heading("14. The console and the API (zhida serve)"))
    users = demo_steps.console_step(console, matches, population_dir)

    console.print(Heading("15. The API in use: a dry-run, a test panel, a birth registration"))
    from api.commands.demo_api import api_lines

    draft = out / "draft-catalog" / "bj-elderly-allowance.yaml"  # written by step 12
    with console.status("publishing the catalog, dry-running, ingesting an event…"):
        for line in api_lines(engine, settings, population_dir, CATALOG, draft, users, seed=seed):
            console.print(line, soft_wrap=True)

    console.print(Heading("Done"))
    console.print(
        "Try:\n"
        f"  zhida explain --population {population_dir} --policies {CATALOG} "
        "--policy bj-elderly-allowance --subject <person_id>\n"
        f"  zhida rank explain --population {population_dir} --pairs {matches_path} "
        "--subject <person_id>\n"
        f"  zhida simulate reach --population {population_dir} --baseline {CATALOG} "
        f"--reform {out / 'draft-catalog'}"
    )


def _print_fairness(
    console: object, out: Path, population_dir: Path, catalog: object, schema: object,
    as_of: date, matches: object, residents: int, enterprises: int, seed: int,
) -> None:  # fmt: skip
    """Coverage of the truly eligible by group: the same population without unknowns is the
    truth, so what missing data costs each group shows."""
    import polars as pl
    from rich.console import Console

    from matcher.fairness import fairness_report
    from matcher.population import attach_tags, scan_population
    from matcher.units import match_units_frame
    from profiles.schema import Schema
    from rules.loader import Catalog
    from simulations.population import GenerationSpec, generate_population

    assert isinstance(console, Console) and isinstance(catalog, Catalog)
    assert isinstance(schema, Schema) and isinstance(matches, pl.DataFrame)
    complete = out / "population-complete"
    spec = GenerationSpec(residents, enterprises, seed=seed, as_of=as_of, unknown_scale=0.0)
    generate_population(spec, complete)
    frames = attach_tags(scan_population(complete, schema), complete, schema, as_of=as_of)
    # Units like the run's own pairs: a household's offer is the household's in both.
    truth = match_units_frame(frames, catalog.in_force(as_of), schema, as_of=as_of)
    report = fairness_report(
        matches, pl.scan_parquet(population_dir / "residents.parquet"), schema.resident,
        as_of=as_of, truth=truth,
    )  # fmt: skip
    overall = truth.filter(pl.col("status") == "eligible").height
    console.print(
        f"{overall:,} truly eligible pairs (from the same people without unknown values); "
        "coverage by group, 95 % bootstrap interval, ratio to the best-served group:"
    )
    for r in report.filter(pl.col("dimension") != "district").iter_rows(named=True):
        flag = "  [red]below 4/5 of the best[/]" if r["flagged"] else ""
        console.print(
            f"  {r['dimension']:<9} {r['group']:<7} {r['rate']:.1%} "
            f"({r['ci_low']:.1%}–{r['ci_high']:.1%}), ratio {r['ratio']:.2f}{flag}"
        )
    flagged = report.filter(pl.col("flagged"))
    console.print(f"{flagged.height} group(s) flagged across district, age, gender and hukou")


def _print_run_diff(
    console: object, population_dir: Path, catalog: object, schema: object, as_of: date,
    matches_path: Path, out: Path,
) -> None:  # fmt: skip
    """Record last month's run and this one, and show what changed: what triggers pushes."""
    from datetime import UTC, datetime

    import polars as pl
    from rich.console import Console

    from core.db import get_engine
    from core.settings import get_settings
    from matcher.batch import write_pairs
    from matcher.population import attach_tags, scan_population
    from matcher.runs import RunStore, population_snapshot
    from matcher.units import PAIRS_SCHEMA, match_units
    from profiles.schema import Schema
    from rules.loader import Catalog

    assert isinstance(console, Console) and isinstance(catalog, Catalog)
    assert isinstance(schema, Schema)
    last_month = pl.select(pl.lit(as_of).dt.offset_by("-1mo")).item()
    earlier = out / "matches-last-month.parquet"
    frames = attach_tags(
        scan_population(population_dir, schema), population_dir, schema, as_of=last_month
    )
    write_pairs(
        match_units(frames, catalog.in_force(last_month), schema, as_of=last_month),
        earlier,
        schema=PAIRS_SCHEMA,
    )
    store = RunStore(get_engine(), get_settings().data_dir)
    snapshot = population_snapshot(population_dir)
    for path, day in ((earlier, last_month), (matches_path, as_of)):
        run = store.record(
            path, as_of=day, catalog_hash=catalog.content_hash, population=snapshot,
            started_at=datetime.now(UTC), seconds=0.0, policies=len(catalog.in_force(day)),
        )  # fmt: skip
    changes = store.diff(run.run_id).collect()
    counts = changes["change"].cast(pl.String).value_counts(sort=True).rows()
    console.print(
        f"run {run.run_id} as of {as_of} vs run {run.previous_run_id} as of {last_month}: "
        + ", ".join(f"{n:,} {c}" for c, n in counts)
    )
    titles = {p.id: p.title for p in catalog.policies}
    top = (
        changes.filter(pl.col("change").cast(pl.String) == "newly_eligible")
        .group_by("policy_id")
        .len()
        .sort("len", descending=True)
        .head(5)
    )
    for policy_id, n in top.rows():
        console.print(f"  newly eligible for {titles[policy_id]}: {n:,}")


def _print_offers(
    console: object, matches: object, population_dir: Path, catalog: object, as_of: date
) -> None:
    import polars as pl
    from rich.console import Console
    from rich.panel import Panel

    from matcher.live.source import FileSource, load_subjects, tag_library
    from profiles.schema import load_schema
    from rules.explainer import explain
    from rules.language import parse_rule
    from rules.loader import Catalog

    assert isinstance(console, Console) and isinstance(matches, pl.DataFrame)
    assert isinstance(catalog, Catalog)
    schema = load_schema()
    busiest = (
        matches.filter(pl.col("subject_type") == "resident")
        .group_by("subject_id")
        .agg(pl.len().alias("n"), (pl.col("status") == "maybe").any().alias("has_maybe"))
        .sort(["has_maybe", "n", "subject_id"], descending=[True, True, False])
        .head(3)
    )
    subjects = load_subjects(FileSource(population_dir, schema), busiest["subject_id"].to_list())
    for subject_id in busiest["subject_id"]:
        subject = subjects[subject_id]
        entity, record = subject.entity, subject.record
        derived = subject.derived(as_of, tag_library(schema))
        who = (record.get("name") or "?", derived.get("age"), record.get("residence_district"))
        lines = [f"{who[0]}，{who[1]}岁，{who[2]}，户籍 {record.get('hukou_city') or '未知'}"]
        offers = matches.filter(pl.col("subject_id") == subject_id).sort("status", "policy_id")
        for policy_id, status, benefit in offers.select("policy_id", "status", "benefit").rows():
            policy = catalog.by_id[policy_id]
            e = explain(parse_rule(policy.eligibility, entity), derived, as_of=as_of, schema=schema)
            amount = f"，{benefit:,.2f} 元/{policy.benefit_period}" if benefit is not None else ""
            lines.append(f"[bold]{policy.title}[/]（{status}，{policy.mode}{amount}）")
            why = "；".join(f"{c.text} ✓" for c in e.clauses if c.result)
            lines.append(f"   因为：{why or '—'}")
            for settle in e.settle:
                ask = " 或 ".join(settle.eligible_if) or ", ".join(map(str, settle.eligible_values))
                lines.append(
                    f"   待确认：{settle.field}" + (f"（若 {ask} 即可享受）" if ask else "")
                )
        console.print(Panel("\n".join(lines), title=subject_id, title_align="left"))


def register(group: click.Group) -> None:
    group.add_command(demo_cmd)
