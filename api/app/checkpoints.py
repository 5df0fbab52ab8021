"""The audit chain's anchor outside the database it protects: MACed checkpoints of its head.

The hash chain (:mod:`api.app.audit`) shows an edited or removed entry only while the links
after it are left alone; someone who can write the table can also delete its newest entries,
or rewrite it and recompute every hash with :func:`~api.app.audit.entry_hash`.  So every entry
appended is also checkpointed: its id (the sequence number) and hash, MACed with HMAC-SHA256
under a key the database never holds, appended as one line to a file outside the database
(``ZHIDA_AUDIT_CHECKPOINTS``, by default ``audit-checkpoints`` in the data directory).
``zhida audit verify`` holds the chain to every checkpoint: an entry a checkpoint names that is
gone (the tail deleted, the table truncated) or whose hash differs (a rewritten, recomputed
chain) fails, and so does a line whose MAC does not hold (an edited or forged checkpoint).

The key is ``ZHIDA_AUDIT_KEY`` (at least 32 characters), else the file ``ZHIDA_AUDIT_KEY_FILE``
(by default ``audit.key`` in the data directory), created with mode 0600 on first use and
refused when others may read it.  A line reads ``zhida-audit-checkpoint v1 ID HASH AT MAC``,
the same line ``zhida audit checkpoint`` prints for an external log.

>>> key = b"k" * 32
>>> line = checkpoint_line(key, Checkpoint(7, "ab" * 32, "2026-03-02T09:00:00Z"))
>>> line.split()[:3]
['zhida-audit-checkpoint', 'v1', '7']
>>> parse_line(key, line) == Checkpoint(7, "ab" * 32, "2026-03-02T09:00:00Z")
True
>>> parse_line(b"another key, 32 bytes long......", line) is None
True
>>> parse_line(key, line.replace(" 7 ", " 6 ")) is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from core.errors import ConfigurationError

__all__ = ["Checkpoint", "Checkpoints", "checkpoint_line", "parse_line"]

_MAGIC: Final = "zhida-audit-checkpoint"
_VERSION: Final = "v1"
_MIN_KEY: Final = 32


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment: the newest entry's id and hash."""

    id: int
    hash: str
    at: str  # UTC, ISO 8601, when the checkpoint was taken


def _mac(key: bytes, point: Checkpoint) -> str:
    message = f"{_MAGIC}|{_VERSION}|{point.id}|{point.hash}|{point.at}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint_line(key: bytes, point: Checkpoint) -> str:
    """The checkpoint as one line (without newline), MACed with ``key``."""
    return f"{_MAGIC} {_VERSION} {point.id} {point.hash} {point.at} {_mac(key, point)}"


def parse_line(key: bytes, line: str) -> Checkpoint | None:
    """The checkpoint of ``line``, or None when it is malformed or its MAC does not hold."""
    parts = line.split()
    if len(parts) != 6 or parts[0] != _MAGIC or parts[1] != _VERSION or not parts[2].isdigit():
        return None
    point = Checkpoint(int(parts[2]), parts[3], parts[4])
    return point if hmac.compare_digest(_mac(key, point), parts[5]) else None


def _key_file(path: Path) -> bytes:
    """The key kept in ``path``, made (mode 0600, atomically) when there is none yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs is kept
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"the audit key file {path} may be read by others (mode {stat.S_IMODE(mode):04o}); "
            f"`chmod 600 {path}`"
        )
    text = path.read_text(encoding="utf-8").strip()
    if len(text) < _MIN_KEY:
        raise ConfigurationError(
            f"the audit key file {path} holds {len(text)} characters; it needs at least "
            f"{_MIN_KEY} (delete it to have a new one made, before any checkpoint is written)"
        )
    return text.encode("utf-8")


class Checkpoints:
    """The checkpoint file and its key."""

    def __init__(self, path: Path, *, key: str | None = None, key_file: Path | None = None):
        if key is not None and len(key) < _MIN_KEY:
            raise ConfigurationError(
                f"ZHIDA_AUDIT_KEY has {len(key)} characters; use at least {_MIN_KEY} random "
                "ones (e.g. `openssl rand -hex 32`)"
            )
        assert key is not None or key_file is not None, "a key or a key file"
        self.path = path
        self._key = key.encode("utf-8") if key is not None else None
        self._given = key is not None
        self.key_file = None if key is not None else key_file

    @classmethod
    def configured(cls, data_dir: Path | None = None) -> Checkpoints:
        """The checkpoints the settings name (their defaults in ``data_dir``)."""
        from core.settings import get_settings

        settings = get_settings()
        folder = data_dir or settings.data_dir
        return cls(
            settings.audit_checkpoints or folder / "audit-checkpoints",
            key=settings.audit_key,
            key_file=settings.audit_key_file or folder / "audit.key",
        )

    @property
    def has_own_key(self) -> bool:
        """Whether the key was given (``ZHIDA_AUDIT_KEY``) rather than read from a file."""
        return self._given

    def key(self) -> bytes:
        if self._key is None:
            assert self.key_file is not None
            self._key = _key_file(self.key_file)
        return self._key

    def write(self, entry_id: int, head: str, at: datetime | None = None) -> str:
        """Append the checkpoint of entry ``entry_id`` (hash ``head``); returns its line."""
        when = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = checkpoint_line(self.key(), Checkpoint(entry_id, head, when))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_APPEND: one write of one short line lands whole at the end, whoever else writes.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, (line + "\n").encode("ascii"))
            finally:
                os.close(fd)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot append the audit checkpoint to {self.path} ({exc.strerror}); make it "
                "writable (ZHIDA_AUDIT_CHECKPOINTS names another file)"
            ) from exc
        return line

    def read(self, path: Path | None = None) -> tuple[list[Checkpoint], list[int]]:
        """The checkpoints of ``path`` (default: the checkpoint file) whose MAC holds, and the
        numbers of the lines that are not checkpoints of this key (edited, forged, other key).
        A missing file has none."""
        source = path or self.path
        try:
            text = source.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the audit checkpoints {source} ({exc.strerror})"
            ) from exc
        key, points, bad = self.key(), [], []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            point = parse_line(key, line)
            if point is None:
                bad.append(number)
            else:
                points.append(point)
        return points, bad
