"""Ranked offers as text: one block per subject, each offer with its score and reasons.

A 免申即享 grant (``ranked`` false) says it is told first and shows no take-up: nothing is
applied for.

>>> reason = "年龄 82 提高得分 (age 82 raises the score)"
>>> ranked = pl.DataFrame({"subject_id": ["P1"], "policy_id": ["bj-x"], "status": ["eligible"],
...     "score": [0.42], "uplift": [0.1], "rank": [1], "reasons": [[reason]]})
>>> for line in offer_lines(ranked, {"bj-x": "高龄津贴"}, how="model v1"):
...     print(line)
P1: 1 offer(s), ordered by model v1
1. bj-x 高龄津贴 [eligible]  take-up 42.0%  push adds +10.0%
     - 年龄 82 提高得分 (age 82 raises the score)
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

__all__ = ["offer_lines"]


def offer_lines(ranked: pl.DataFrame, titles: Mapping[str, str], *, how: str) -> list[str]:
    """Text lines for every subject of ``ranked`` (a :func:`rank_offers` result), in rank order.

    ``titles`` maps policy ids to titles; ``how`` names the ordering (a model version, or rules).
    """
    lines: list[str] = []
    for (subject,), offers in ranked.sort("subject_id", "rank").group_by(
        "subject_id", maintain_order=True
    ):
        lines.append(f"{subject}: {offers.height} offer(s), ordered by {how}")
        for row in offers.iter_rows(named=True):
            score = "" if row["score"] is None else f"  take-up {row['score']:.1%}"
            uplift = "" if row["uplift"] is None else f"  push adds {row['uplift']:+.1%}"
            if row.get("ranked") is False:
                score, uplift = "  免申即享 granted, told first (not ranked)", ""
            title = titles.get(row["policy_id"], "")
            lines.append(
                f"{row['rank']}. {row['policy_id']} {title} [{row['status']}]{score}{uplift}"
            )
            lines.extend(f"     - {reason}" for reason in row["reasons"])
    return lines
