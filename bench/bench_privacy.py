"""What privacy costs a dry-run: noise, bounds, the identifying-rule check and the audit writes.

On ``bench_match``'s population of N residents (default 1,000,000, and N/10 firms) with the
built-in catalog published, a draft (the old-age allowance from 75) is dry-run two ways in the
same process, alternately, three times each (median seconds):

- **baseline** — today's computation without privacy: the exact reach of the draft beside the
  published catalog (:func:`simulations.reach.simulate_reach`), as the dry-run ran before
  issue 14;
- **private** — :func:`simulations.preview.compute_dry_run` (identifying rules refused, benefits
  bounded, the population's groups, every figure noisy) plus what the route writes: the
  release kept and charged (:class:`simulations.budget.PrivacyBudget`) and the audit entry,
  on a SQLite database under ``bench/out``.

Target: private ≤ 1.10 × baseline.  ``python -m bench privacy [--residents N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

CATALOG = Path(__file__).resolve().parent.parent / "rules" / "catalog"
AS_OF = date(2026, 6, 30)


def _setup(directory: Path) -> tuple[Any, Any, Any]:
    from api.app.audit import AuditLog
    from core.db import get_engine, upgrade
    from simulations.budget import PrivacyBudget

    engine = get_engine(f"sqlite:///{directory / 'bench.db'}")
    upgrade(engine)
    return engine, PrivacyBudget(engine), AuditLog(engine)


def main(argv: list[str] | None = None) -> None:
    from bench.bench_match import ensure_population
    from profiles.schema import load_schema
    from rules.loader import Catalog, load_catalog, load_policy_text
    from simulations.preview import Published, compute_dry_run, document_hash
    from simulations.privacy import noisy
    from simulations.reach import simulate_reach

    parser = argparse.ArgumentParser(prog="python -m bench privacy")
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv if argv is not None else [])
    population = ensure_population(args.residents)
    schema = load_schema()
    catalog = load_catalog([CATALOG], schema)
    published = Published(catalog, {p.id: 1 for p in catalog.policies})
    text = (CATALOG / "bj-elderly-allowance.yaml").read_text(encoding="utf-8")
    document = text.replace("age >= 80 and", "age >= 75 and")
    draft = load_policy_text(document, Path("<draft>"), schema)
    others = tuple(p for p in catalog.policies if p.id != draft.id)
    reform = Catalog((*others, draft), {}, {})

    def baseline() -> None:
        simulate_reach(population, catalog, reform, schema, as_of=AS_OF)

    with tempfile.TemporaryDirectory(dir=Path(__file__).parent / "out") as tmp:
        _, budget, audit = _setup(Path(tmp))
        runs = iter(range(10_000))

        def private() -> None:
            n = next(runs)
            figures = compute_dry_run(draft, published, population, as_of=AS_OF)
            key = f"dry_run:bench:{n}"
            budget.answer(f"analyst{n}", key, "dry_run", budget.params.dry_run_epsilon,
                          lambda: figures)  # fmt: skip
            audit.append(
                actor=f"analyst{n}", role="analyst", action="policy.dry_run",
                entity_type="policy", entity_id=draft.id, source="bench",
                details={"document_sha256": document_hash(document), "release": key,
                         "figures": {k: figures[k] for k in ("eligible", "maybe")}},
            )  # fmt: skip

        times: dict[str, list[float]] = {"baseline": [], "private": []}
        baseline()  # warm the file cache and polars
        noisy([0], 1.0)  # and load OpenDP's library (once per server)
        for _ in range(args.repeats):
            for name, run in (("baseline", baseline), ("private", private)):
                started = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - started)
    base, priv = statistics.median(times["baseline"]), statistics.median(times["private"])
    print(
        json.dumps(
            {
                "residents": args.residents,
                "baseline_dry_run_seconds": round(base, 3),
                "private_dry_run_seconds": round(priv, 3),
                "ratio": round(priv / base, 3),
                "target_ratio": 1.10,
                "runs": {k: [round(t, 3) for t in v] for k, v in times.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
