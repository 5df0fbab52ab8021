"""Whole-population matching: 1M residents × 200 rules, Parquet in → pairs file out.

Printed beside three baselines measured in the same run:
  (a) per-row rule-engine evaluation (``rule_engine.Rule.matches``) on a sample, extrapolated;
  (b) DuckDB running the same rules written as SQL on the same Parquet file, writing the same
      pairs to Parquet (SQL's NULL logic is Kleene's, so the results are comparable);
      the DuckDB ratio is Zhida's seconds over DuckDB's (goal ≤ 1.0);
  (c) OpenFisca: ``zhida match`` as a user runs it (default flags, the run recorded) on the 20
      resident policies of ``bench/fixtures/`` against the same policies as OpenFisca variables,
      whole processes alternating, results asserted equal (``bench.peer_openfisca``, which
      creates the bench-only ``bench/out/openfisca-venv`` with openfisca-core on first use);
      the OpenFisca ratio is OpenFisca's seconds over Zhida's (goal ≥ 2.0).
Each measured step runs in a fresh process; peak RSS is that process's maximum resident set.
Figures are medians of ``--repeats`` (3) runs; on a machine others are loading, wall times
swell and the CPU seconds printed beside them are the steadier measure.

Run: ``.venv/bin/python -m bench.bench_match [--residents N] [--no-openfisca]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from rules.policy import Policy

OUT = Path("bench/out")
AS_OF = date(2026, 6, 30)

TEMPLATES: tuple[tuple[str, str | None, tuple[int, ...]], ...] = (
    ('age >= {p} and hukou_city == "北京市"', "age >= 90 ? 500 : 100", tuple(range(60, 100, 2))),
    ("age >= {p} and disability_grade in [1, 2]", "600", tuple(range(40, 80, 2))),
    (
        'monthly_income < {p} and employment_status == "unemployed"',
        None,
        tuple(range(1000, 5000, 200)),
    ),
    (
        'household_income_per_capita < {p} and hukou_city == "北京市" '
        'and subsistence_status == "none"',
        "(1395 - household_income_per_capita) * household_size",
        tuple(range(800, 2800, 100)),
    ),
    ("children_under_3 >= 1 and age < {p}", "3600 * children_under_3", tuple(range(25, 45))),
    ("is_veteran and age >= {p}", "1000", tuple(range(20, 100, 4))),
    (
        '"new_parent" in tags or (children_under_3 >= 1 and monthly_income < {p})',
        None,
        tuple(range(3000, 23000, 1000)),
    ),
    (
        'residence_district in ["西城区", "东城区"] and age >= {p}',
        None,
        tuple(range(60, 100, 2)),
    ),
    (
        'employment_status == "self_employed" and '
        '((gender == "female" and age >= {p}) or age >= 50)',
        "800",
        tuple(range(30, 50)),
    ),
    ('subsistence_status in ["dibao", "tekun"] and age >= {p}', "2093", tuple(range(0, 80, 4))),
)


def bench_policies() -> list[Policy]:
    out = []
    for t, (eligibility, benefit, params) in enumerate(TEMPLATES):
        for p in params:
            out.append(
                Policy(
                    id=f"bench-{t}-{p}",
                    title="bench",
                    department="bench",
                    audience="resident",
                    mode="auto_grant",
                    eligibility=eligibility.format(p=p),
                    benefit=benefit,
                    benefit_period="month" if benefit else None,
                    valid_from=date(2020, 1, 1),
                )
            )
    return out


def _in_child(target: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """Run ``target(*args)`` in a fresh process; its result plus seconds and peak RSS (MB)."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(_measured, (target, *args))  # type: ignore[no-any-return]


def _measured(target: Callable[..., Any], *args: Any) -> dict[str, Any]:
    started = time.perf_counter()
    result = target(*args)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb, "result": result}


def ensure_population(residents: int) -> Path:
    from simulations.population import GenerationSpec, generate_population

    directory = OUT / f"population-{residents}"
    if not (directory / "residents.parquet").exists():
        generate_population(GenerationSpec(residents, residents // 10, 7, AS_OF), directory)
    return directory


def run_zhida(population: str, out: str) -> int:

    from matcher.batch import match_population, write_pairs
    from matcher.population import scan_population
    from profiles.schema import load_schema

    schema = load_schema()
    frames = scan_population(Path(population), schema)
    frames.pop("enterprise", None)
    return write_pairs(match_population(frames, bench_policies(), schema, as_of=AS_OF), Path(out))


def run_duckdb(population: str, out: str) -> int:
    import duckdb

    from bench.sql import catalog_sql

    sql = catalog_sql(bench_policies(), f"{population}/residents.parquet", AS_OF)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")
    count = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()
    return int(count[0]) if count else 0


def run_rule_engine(population: str, sample: int) -> float:
    """Seconds per (record × rule) for rule-engine's per-row evaluation."""
    import polars as pl
    import rule_engine

    from profiles.derive import with_derived
    from profiles.schema import load_schema

    resident = load_schema().resident
    frame = with_derived(
        pl.scan_parquet(f"{population}/residents.parquet").head(sample), resident, as_of=AS_OF
    ).collect()
    records = frame.to_dicts()
    rules = [rule_engine.Rule(p.eligibility) for p in bench_policies()]
    started = time.perf_counter()
    for rule in rules:
        for record in records:
            try:  # noqa: SIM105  (suppress() would add its own cost to the baseline)
                rule.matches(record)
            except rule_engine.errors.EngineError:
                pass  # rule-engine cannot compare None with a number: counted all the same
    return (time.perf_counter() - started) / (len(rules) * len(records))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-openfisca", dest="openfisca", action="store_false", help="Skip the OpenFisca peer."
    )
    args = parser.parse_args(argv or [])
    OUT.mkdir(parents=True, exist_ok=True)
    population = ensure_population(args.residents)
    n_rules = len(bench_policies())
    zhida = [
        _in_child(run_zhida, str(population), str(OUT / "pairs-zhida.parquet"))
        for _ in range(args.repeats)
    ]
    duck = [
        _in_child(run_duckdb, str(population), str(OUT / "pairs-duckdb.parquet"))
        for _ in range(args.repeats)
    ]
    per_pair = statistics.median(
        _in_child(run_rule_engine, str(population), 2000)["result"] for _ in range(args.repeats)
    )
    z = statistics.median(r["seconds"] for r in zhida)
    d = statistics.median(r["seconds"] for r in duck)
    per_row = per_pair * args.residents * n_rules
    report = {
        "residents": args.residents,
        "rules": n_rules,
        "pairs_zhida": zhida[0]["result"],
        "pairs_duckdb": duck[0]["result"],
        "zhida_seconds_median": round(z, 2),
        "zhida_peak_mb": round(max(r["peak_mb"] for r in zhida)),
        "duckdb_seconds_median": round(d, 2),
        "duckdb_peak_mb": round(max(r["peak_mb"] for r in duck)),
        "rule_engine_per_row_seconds_extrapolated": round(per_row, 1),
        "speedup_vs_duckdb": round(d / z, 2),
        "duckdb_ratio (zhida s / duckdb s, goal <= 1.0)": round(z / d, 2),
        "speedup_vs_per_row": round(per_row / z),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False), flush=True)
    if args.openfisca:
        from bench.peer_openfisca import compare

        peer = compare(args.residents, args.repeats)
        print(json.dumps({"openfisca": peer}, indent=2, ensure_ascii=False))
        ratios = {
            "duckdb_ratio": report["duckdb_ratio (zhida s / duckdb s, goal <= 1.0)"],
            "openfisca_ratio": peer["openfisca_ratio (openfisca s / zhida s, goal >= 2.0)"],
            "openfisca_cpu_ratio": peer["openfisca_cpu_ratio"],
        }
        print(json.dumps({"ratios": ratios}))


if __name__ == "__main__":
    main()
