"""Files a command writes out of the system are audited data exports, as the API's downloads are.

``zhida runs diff --out`` and ``zhida report fairness --csv`` write what a subject-level or
group-level table holds to a file that leaves Zhida's control; like ``GET /api/v1/exports/…`` and
the console's CSV downloads, each is an audit entry (``data.export``) naming who ran it
(``cli:LOGIN``), what was written, its rows and its SHA-256, so the file found later can be
matched to its entry.  The file is written to a temporary name beside its place, the entry is
appended, and only then is the file renamed into place: a failed audit leaves no file.  The
file is readable by its owner only (mode 0600, as the temporary file is made): a run's diff
names subjects.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["write_audited"]


def write_audited(
    path: Path,
    write: Callable[[Path], None],
    *,
    what: str,
    entity_type: str,
    entity_id: str,
    rows: int,
    details: dict[str, Any] | None = None,
) -> str:
    """Write ``path`` with ``write(tmp)``, audit it as a data export, then move it in place.

    Returns the file's SHA-256 (hex), which the audit entry records.
    """
    from api.app.audit import AuditLog
    from api.app.checkpoints import Checkpoints
    from api.commands.users import operator
    from core.db import get_engine, upgrade

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        engine = get_engine()
        upgrade(engine)
        AuditLog(engine, Checkpoints.configured()).append(
            actor=operator(), role="cli", action="data.export", entity_type=entity_type,
            entity_id=entity_id[:128] or "-", source="cli",
            details={"what": what, "file": path.name, "rows": rows, "sha256": digest,
                     **(details or {})},
        )  # fmt: skip
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return digest
