"""The analyst console's reach results, kept for their CSV download by whoever ran them.

A console reach simulation (:func:`simulations.reach_job.reach_summary`) is already disclosed
(:mod:`simulations.disclosure`); it is kept as one JSON file per run under
``$ZHIDA_DATA_DIR/console/simulations/<id>.json`` with its owner, so that only the analyst who
ran it (or an admin) downloads it.  A run's id is 16 random hex digits: not guessable, and
nothing else is a valid file name here.

>>> reach_csv({"as_of": "2026-06-30", "total": None, "groups": []}).splitlines()[0][:40]
'as_of,dimension,group,eligible_before,el'
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from pathlib import Path
from typing import Any, Final

from simulations.disclosure import REACH_COLUMNS

__all__ = ["ReachResults", "reach_csv"]

_SIM_ID: Final = re.compile(r"^[0-9a-f]{16}$")


class ReachResults:
    """Reach results by id, each with its owner."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / "console" / "simulations"

    def keep(self, owner: str, result: dict[str, Any]) -> str:
        """Write ``result`` (already disclosed) for ``owner``; returns its id."""
        sim_id = secrets.token_hex(8)
        self.directory.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"owner": owner, **result}, ensure_ascii=False, default=str)
        tmp = self.directory / f"{sim_id}.json.tmp"
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(self.directory / f"{sim_id}.json")  # never half-written under the real name
        return sim_id

    def load(self, sim_id: str, *, reader: str, admin: bool = False) -> dict[str, Any] | None:
        """The result ``sim_id`` if ``reader`` ran it (an admin reads any); else None, the same
        answer as for an id that does not exist."""
        path = self.directory / f"{sim_id}.json"
        if not _SIM_ID.match(sim_id) or not path.is_file():
            return None
        result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if result.get("owner") != reader and not admin:
            return None
        return result


def reach_csv(result: dict[str, Any]) -> str:
    """A kept result as CSV: the total of all changed policies, then each group."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["as_of", "dimension", "group", *REACH_COLUMNS])
    rows = ([{**result["total"], "dimension": "total", "group": "(all changed)"}]
            if result.get("total") else [])  # fmt: skip
    for row in [*rows, *result["groups"]]:
        writer.writerow([result["as_of"], row["dimension"], row["group"],
                         *(row[c] for c in REACH_COLUMNS)])  # fmt: skip
    return out.getvalue()
