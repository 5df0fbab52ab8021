"""Rules over groups against OpenFisca's group entities: 低保 per household, 育儿补贴 per child.

The workload: ``bench/fixtures/group-peer-policies`` (the catalog's 最低生活保障 — a person rule
whose unit is the household, so ``zhida match`` writes one pair per household — and 育儿补贴,
one pair per Beijing-hukou child under 3, copied so later catalog changes do not move it) on a
generated population in households (``households.parquet``, each resident's ``household_id``)
without unknown values (OpenFisca has none).

- Zhida: ``zhida match --population P --policies F --as-of D --out O``, a whole process.
- OpenFisca: ``bench/openfisca_groups_peer.py`` (a ``household`` group entity with a head and
  members; ``household.sum``, ``household.any``, ``nb_persons``) in the bench-only environment
  ``bench/out/openfisca-venv`` (made on first use, as ``bench.peer_openfisca`` does), a whole
  process reading the same files and writing the same pairs.

The runs alternate; each is timed by the wall clock and its CPU time (user + system) with its
peak resident set.  Both must agree per policy — the pairs, the benefits summed to the fen —
and Zhida must have no ``maybe`` pair, or the bench fails.

Run: ``.venv/bin/python -m bench.peer_openfisca_groups [--residents N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
from pathlib import Path
from typing import Any

from bench.peer_openfisca import AS_OF, OUT, assert_agree, ensure_venv, timed, zhida_argv

FIXTURE = Path("bench/fixtures/group-peer-policies")
PEER = Path(__file__).with_name("openfisca_groups_peer.py")


def ensure_population(residents: int) -> Path:
    """A population of ``residents`` in households, without unknown values (generated once)."""
    from datetime import date

    from simulations.population import GenerationSpec, generate_population

    directory = OUT / f"group-peer-population-{residents}"
    if not (directory / "households.parquet").exists():
        spec = GenerationSpec(
            residents, residents // 10, 7, date.fromisoformat(AS_OF), unknown_scale=0.0
        )
        generate_population(spec, directory)
    return directory


def _eligible_only(path: Path) -> int:
    """Keep the eligible pairs of ``path`` (rewritten); returns how many were ``maybe``."""
    import polars as pl

    pairs = pl.read_parquet(path)
    maybe = int((pairs["status"].cast(pl.String) == "maybe").sum())
    pairs.filter(pl.col("status").cast(pl.String) == "eligible").select(
        "subject_id", "policy_id", "benefit"
    ).write_parquet(path)
    return maybe


def compare(residents: int, repeats: int) -> dict[str, Any]:
    python = ensure_venv()
    population = ensure_population(residents)
    data_dir = OUT / "zhida-data-group-peer"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {**os.environ, "ZHIDA_DATA_DIR": str(data_dir)}
    env.pop("ZHIDA_DATABASE_URL", None)
    ours, theirs = OUT / "pairs-zhida-groups.parquet", OUT / "pairs-openfisca-groups.parquet"
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
    maybe = _eligible_only(ours)
    if maybe:
        raise AssertionError(f"Zhida found {maybe} maybe pairs on a population without unknowns")
    agreed = assert_agree(ours, theirs)

    def median(runs: list[dict[str, float]], key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 2)

    return {
        "residents": residents,
        "workload": str(FIXTURE),
        "agree": agreed,
        "zhida_match_seconds_median": median(z, "seconds"),
        "zhida_match_cpu_seconds_median": median(z, "cpu_seconds"),
        "zhida_match_peak_mb": round(max(r["peak_mb"] for r in z)),
        "openfisca_seconds_median": median(o, "seconds"),
        "openfisca_cpu_seconds_median": median(o, "cpu_seconds"),
        "openfisca_peak_mb": round(max(r["peak_mb"] for r in o)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(compare(args.residents, args.repeats), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
