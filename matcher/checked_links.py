"""Link checks remembered: a population whose files passed them, unchanged, is not checked again.

:func:`profiles.link_checks.check_links` reads every resident, household and employment of a
population directory (1.5 s of CPU at 1M residents, a fifth of a two-policy ``zhida match``).
A pass is kept in a small JSON file under the data directory, keyed by each file's resolved path,
size, modification and change times and inode (:func:`matcher.runs.population_snapshot` keys
its digests alike) and by the checks' own source file, so an edited file or an edited check is
checked again.  Only passes are kept: a population refused is refused every time, with its rows.
The cache is only a cache: unreadable, it is empty; unwritable, nothing is remembered.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     cache = Path(d) / "link-checks.json"
...     (Path(d) / "residents.parquet").write_bytes(b"x")
...     key = files_key([Path(d) / "residents.parquet"])
...     before = passed(cache, key)
...     remember(cache, key)
...     before, passed(cache, key)
1
(False, True)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["files_key", "passed", "remember"]

KEPT = 64  # passes remembered (the newest); a data directory serves a few populations


def files_key(paths: Iterable[Path]) -> str:
    """One key for ``paths`` as they are now on disk, and for the link checks' source."""
    from profiles import link_checks

    digest = hashlib.sha256()
    for path in sorted({*paths, Path(link_checks.__file__ or "link_checks")}):
        st = path.stat()
        stamp = (path.resolve(), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        digest.update("|".join(map(str, stamp)).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def passed(cache: Path, key: str) -> bool:
    """Whether files with ``key`` have passed the link checks (and were not changed since)."""
    return key in _read(cache)


def remember(cache: Path, key: str) -> None:
    """Keep that files with ``key`` passed the link checks (a write that fails is ignored)."""
    earlier = [k for k in _read(cache) if k != key]
    keys = [*earlier[-(KEPT - 1) :], key]
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(keys), encoding="utf-8")
        tmp.replace(cache)
    except OSError:  # a cache that cannot be written is only slower
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _read(cache: Path) -> list[str]:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(k) for k in data] if isinstance(data, list) else []
