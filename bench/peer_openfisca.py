"""`zhida match` as a user runs it against OpenFisca, on 1M residents and a fixed catalog.

The workload: the 20 resident policies of ``bench/fixtures/resident-policies`` (today's catalog's
resident policies that read no tag, copied so later catalog changes do not move the baseline;
18 in force on the as-of date) on a generated population without links and without unknown
values (OpenFisca has no unknowns; with them Zhida's ``maybe`` pairs would have no peer).

- Zhida: ``zhida match --population P --policies F --as-of D --out O`` with its default flags
  (tags on, the run recorded in a fresh data directory), a whole process.
- OpenFisca: ``bench/openfisca_peer.py`` (the same policies as OpenFisca variables) in the
  bench-only environment ``bench/out/openfisca-venv``, a whole process reading the same
  residents file and writing the same pairs.  The environment is made on first use with
  ``python3 -m venv`` and ``pip install openfisca-core polars`` (a network or a package mirror
  is needed once); it is never part of the project's lock.

The runs alternate (Zhida, OpenFisca, Zhida, …) so that a machine loaded by others slows both
alike; each is timed by the wall clock and by its CPU time (user + system, from ``wait4``),
with its peak resident set.  The two pairs files must agree per policy — the number of pairs,
the sum of benefits to the fen and the pairs without a benefit — or the bench fails.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

OUT = Path("bench/out")
FIXTURE = Path("bench/fixtures/resident-policies")
PEER = Path(__file__).with_name("openfisca_peer.py")
VENV = OUT / "openfisca-venv"
PACKAGES = ("openfisca-core", "polars")
AS_OF = "2026-06-30"


def ensure_venv() -> Path:
    """The bench-only environment's Python, created with openfisca-core if missing."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import openfisca_core, polars"]
    if python.exists() and subprocess.run(probe, check=False, capture_output=True).returncode == 0:
        return python
    base = shutil.which("python3") or sys.executable
    subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", *PACKAGES]
    if subprocess.run(pip, check=False).returncode != 0:
        raise SystemExit(
            f"could not install {' and '.join(PACKAGES)} into {VENV}: pip needs a network or a "
            "package mirror once; or run `python -m bench.bench_match --no-openfisca`"
        )
    return python


def ensure_population(residents: int) -> Path:
    """A population of ``residents`` without links or unknown values (generated once)."""
    from datetime import date

    from simulations.population import GenerationSpec, generate_population

    directory = OUT / f"peer-population-{residents}"
    if not (directory / "residents.parquet").exists():
        as_of = date.fromisoformat(AS_OF)
        spec = GenerationSpec(residents, residents // 10, 7, as_of, unknown_scale=0.0)
        generate_population(spec, directory)
    for links in ("households.parquet", "employments.parquet"):
        (directory / links).unlink(missing_ok=True)  # the workload is without links
    return directory


def timed(argv: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``argv`` as a whole process: wall seconds, CPU seconds and peak RSS (MB)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}: {stderr[-2000:]}")
    return {
        "seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
    }


def zhida_argv() -> list[str]:
    script = Path(sys.executable).with_name("zhida")
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


def per_policy(path: Path) -> Any:
    """Per policy: pairs, the sum of benefits (exact) and the pairs without a benefit."""
    import polars as pl

    return (
        pl.scan_parquet(path)
        .group_by("policy_id")
        .agg(
            pl.len().alias("pairs"),
            pl.col("benefit").sum().alias("benefit_sum"),
            pl.col("benefit").null_count().alias("no_benefit"),
        )
        .sort("policy_id")
        .collect()
    )


def assert_agree(zhida: Path, openfisca: Path) -> dict[str, Any]:
    """Both pairs files hold the same pairs per policy and the same sums, or AssertionError."""
    import polars as pl

    ours, theirs = per_policy(zhida), per_policy(openfisca)
    if not ours.equals(theirs):
        diff = ours.join(theirs, on="policy_id", how="full", suffix="_openfisca").filter(
            (pl.col("pairs") != pl.col("pairs_openfisca")).fill_null(True)
            | (pl.col("benefit_sum") != pl.col("benefit_sum_openfisca")).fill_null(True)
            | (pl.col("no_benefit") != pl.col("no_benefit_openfisca")).fill_null(True)
        )
        raise AssertionError(f"Zhida and OpenFisca disagree:\n{diff}")
    return {
        "policies": ours.height,
        "pairs": int(ours["pairs"].sum()),
        "benefit_sum": str(ours["benefit_sum"].sum()),
    }


def compare(residents: int, repeats: int) -> dict[str, Any]:
    """Medians of ``repeats`` alternating runs of each, and whether their results agree."""
    python = ensure_venv()
    population = ensure_population(residents)
    data_dir = OUT / "zhida-data-peer"
    shutil.rmtree(data_dir, ignore_errors=True)  # the first run is a first run
    env = {**os.environ, "ZHIDA_DATA_DIR": str(data_dir)}
    env.pop("ZHIDA_DATABASE_URL", None)  # the embedded default, as a user's first try
    ours, theirs = OUT / "pairs-zhida-match.parquet", OUT / "pairs-openfisca.parquet"
    zhida_cmd = [
        *zhida_argv(), "match", "--population", str(population), "--policies", str(FIXTURE),
        "--as-of", AS_OF, "--out", str(ours),
    ]  # fmt: skip
    peer_cmd = [str(python), str(PEER), str(population), str(theirs), AS_OF]
    z: list[dict[str, float]] = []
    o: list[dict[str, float]] = []
    for _ in range(repeats):
        z.append(timed(zhida_cmd, env))
        o.append(timed(peer_cmd))
    agreed = assert_agree(ours, theirs)

    def median(runs: list[dict[str, float]], key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 2)

    return {
        "residents": residents,
        "workload": f"{FIXTURE} ({agreed['policies']} policies in force), no tags read",
        "agree": agreed,
        "zhida_match_default_seconds_median": median(z, "seconds"),
        "zhida_match_default_first_run_seconds": round(z[0]["seconds"], 2),
        "zhida_match_default_cpu_seconds_median": median(z, "cpu_seconds"),
        "zhida_match_default_peak_mb": round(max(r["peak_mb"] for r in z)),
        "openfisca_seconds_median": median(o, "seconds"),
        "openfisca_cpu_seconds_median": median(o, "cpu_seconds"),
        "openfisca_peak_mb": round(max(r["peak_mb"] for r in o)),
        "openfisca_ratio (openfisca s / zhida s, goal >= 2.0)": round(
            statistics.median(r["seconds"] for r in o) / statistics.median(r["seconds"] for r in z),
            2,
        ),
        "openfisca_cpu_ratio": round(
            statistics.median(r["cpu_seconds"] for r in o)
            / statistics.median(r["cpu_seconds"] for r in z),
            2,
        ),
    }
