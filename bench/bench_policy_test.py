"""The editor's test panel: one subject of a large population, clause by clause, over HTTP.

``POST /api/v1/policies/test`` with a ``subject_id`` reads that subject (with its tags as of
the date) from the population the server was given, explains the draft's rule for it and
audits the read.  Printed beside baselines measured in the same run: the same request with a
typed profile (the floor: HTTP, auth, parsing the draft, explaining it; no population read, no
audit) and the subject lookup alone, called in process (the server's subject source: the
database, then the population's files filtered to one subject, its tags from its events).

Run: ``.venv/bin/python -m bench.bench_policy_test [--residents N] [--requests 15]``
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl

from bench.bench_population import OUT, generate

RULE = 'age >= 60 and hukou_city == "北京市" and not ("new_parent" in tags)'


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def main(argv: list[str] | None = None) -> None:
    from argon2 import PasswordHasher
    from litestar.testing import TestClient

    from api.app.app import create_app
    from api.app.auth import UserStore
    from core.db import get_engine, upgrade
    from matcher.live.source import require_subject, tag_library
    from rules.store import PolicyStore

    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=15)
    args = parser.parse_args(argv or [])
    directory = OUT / f"population-{args.residents}"
    if not (directory / "residents.parquet").exists():
        generate(args.residents, args.residents // 10, str(directory))
    ids = pl.read_parquet(directory / "residents.parquet", columns=["person_id"])["person_id"]
    chosen = random.Random(7).sample(ids.to_list(), args.requests)
    document = (
        Path("rules/catalog/bj-elderly-allowance.yaml")
        .read_text(encoding="utf-8")
        .replace('age >= 80 and hukou_city == "北京市"', RULE)
    )
    with tempfile.TemporaryDirectory() as tmp:
        engine = get_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        PolicyStore(engine).import_catalog(Path("rules/catalog"), author="bench", note="bench")
        fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        users = UserStore(engine, fast)
        token = users.issue(users.create("officer", "bench-password", role="officer",
                                         department="北京市民政局"))  # fmt: skip
        app = create_app(engine, data_dir=Path(tmp), population=directory, hasher=fast)
        headers = {"Authorization": f"Bearer {token}"}
        panel, typed = [], []
        with TestClient(app) as client:
            for subject in chosen:
                started = time.perf_counter()
                answer = client.post(
                    "/api/v1/policies/test", headers=headers,
                    json={"document": document, "subject_id": subject},
                )  # fmt: skip
                panel.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
                started = time.perf_counter()
                answer = client.post(
                    "/api/v1/policies/test", headers=headers,
                    json={"document": document, "profile": {"年龄": 70, "户籍城市": "北京市"}},
                )  # fmt: skip
                typed.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
            svc = app.state["services"]
        lookup = []
        for subject in chosen:
            started = time.perf_counter()
            found = require_subject(svc.subjects, subject)
            found.tagged(date.today(), tag_library(svc.subjects.schema))
            lookup.append(time.perf_counter() - started)
        engine.dispose()
    print(
        json.dumps(
            {
                "residents": args.residents,
                "requests": args.requests,
                "test_panel_subject_ms_p50": _median_ms(panel),
                "test_panel_subject_ms_max": round(max(panel) * 1000, 1),
                "baseline_typed_profile_ms_p50": _median_ms(typed),
                "baseline_subject_lookup_in_process_ms_p50": _median_ms(lookup),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
