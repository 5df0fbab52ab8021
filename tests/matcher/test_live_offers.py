from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from matcher.live.offers import OfferCache, OfferIndex, offers_of, scan_rows


def _pairs(path: Path) -> list[str]:
    rng = np.random.default_rng(3)
    n = 2000
    subjects = [f"P{i:04d}" for i in rng.integers(0, 300, n)]
    pl.DataFrame(
        {
            "subject_id": subjects,
            "subject_type": "resident",
            "policy_id": [f"bj-{i:02d}" for i in rng.integers(0, 40, n)],
            "status": rng.choice(["eligible", "maybe"], n),
            "benefit": [None if x < 100 else float(x) for x in rng.integers(0, 1000, n)],
        }
    ).unique(["subject_id", "policy_id"]).write_parquet(path)
    return [*sorted(set(subjects)), "P9999"]


def test_the_index_answers_exactly_what_a_scan_of_the_pairs_answers(tmp_path: Path) -> None:
    path = tmp_path / "pairs.parquet"
    subjects = _pairs(path)
    index = OfferIndex.read(1, path)
    for subject in subjects:
        assert index.rows(subject) == scan_rows(path, subject), subject


def test_while_the_index_is_being_built_requests_scan_instead_of_waiting(tmp_path: Path) -> None:
    path = tmp_path / "pairs.parquet"
    subject = _pairs(path)[0]
    cache = OfferCache()
    with cache._lock:  # another request is building the index
        assert cache.get(1, path) is None
        during = offers_of(cache, 1, path, subject)
    assert cache.get(1, path) is not None
    assert offers_of(cache, 1, path, subject) == during != []
