"""Policies in the database: immutable versions, their lifecycle, and "as of date D".

Every version keeps the YAML document exactly as written, so exporting what was imported gives
back the same bytes.  A change is a new version (draft → in_review → published → retired) with
its author, time, change note, the hash of its document and the content hash of its rule.  The
catalog as of a date holds, per policy, the newest published version valid on that date.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.errors import NotFoundError
from profiles.schema import Schema, load_schema
from rules.lifecycle import check_reason, check_reviewer, next_status
from rules.loader import Catalog, load_catalog, load_policy_text
from rules.policy import Policy

__all__ = ["PolicyStore", "PolicyVersion"]

_metadata = sa.MetaData()
_versions = sa.Table(
    "policy_versions",
    _metadata,
    sa.Column("policy_id", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("audience", sa.String(16), nullable=False),
    sa.Column("mode", sa.String(32), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_until", sa.Date),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("source_name", sa.String(255)),
    sa.Column("document_hash", sa.String(64), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("author", sa.String(128), nullable=False),
    sa.Column("change_note", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("submitted_at", sa.DateTime),
    sa.Column("reviewer", sa.String(128)),
    sa.Column("published_at", sa.DateTime),
    sa.Column("retired_at", sa.DateTime),
    # 退回修改: why the reviewer returned it (the author sees it on the draft), who and when
    sa.Column("return_reason", sa.Text),
    sa.Column("returned_by", sa.String(128)),
    sa.Column("returned_at", sa.DateTime),
    sa.Index("ix_policy_versions_status", "status", "policy_id"),
)


@dataclass(frozen=True)
class PolicyVersion:
    policy_id: str
    version: int
    status: str
    document: str
    document_hash: str
    content_hash: str
    author: str
    change_note: str
    created_at: datetime
    reviewer: str | None
    published_at: datetime | None
    valid_from: date
    valid_until: date | None
    return_reason: str | None = None  # the latest 退回修改's reason (kept once resubmitted)
    returned_by: str | None = None
    submitted_at: datetime | None = None  # the latest submission for review


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _version(row: Any) -> PolicyVersion:
    return PolicyVersion(
        policy_id=row.policy_id,
        version=row.version,
        status=row.status,
        document=row.document,
        document_hash=row.document_hash,
        content_hash=row.content_hash,
        author=row.author,
        change_note=row.change_note,
        created_at=row.created_at,
        reviewer=row.reviewer,
        published_at=row.published_at,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        return_reason=row.return_reason,
        returned_by=row.returned_by,
        submitted_at=row.submitted_at,
    )


def _supersede(conn: sa.Connection, policy_id: str, now: datetime) -> None:
    del now  # superseding keeps the version's own published_at
    conn.execute(
        _versions.update()
        .where(_versions.c.policy_id == policy_id, _versions.c.status == "published")
        .values(status=next_status("published", "supersede"))
    )


def _retire_published(conn: sa.Connection, policy_ids: Sequence[str], now: datetime) -> None:
    if policy_ids:
        conn.execute(
            _versions.update()
            .where(_versions.c.policy_id.in_(list(policy_ids)), _versions.c.status == "published")
            .values(status=next_status("published", "retire"), retired_at=now)
        )


class PolicyStore:
    def __init__(self, engine: Engine, schema: Schema | None = None) -> None:
        self.engine = engine
        self.schema = schema or load_schema()

    def draft(self, document: str, *, author: str, note: str, path: str = "<draft>") -> int:
        """Store ``document`` (checked first) as a new draft version; returns its number."""
        policy = load_policy_text(document, Path(path), self.schema)
        with self.engine.begin() as conn:
            return self._insert(conn, policy, document, author=author, note=note, status="draft")

    def _insert(
        self, conn: sa.Connection, policy: Policy, document: str, *, author: str, note: str,
        status: str, source_name: str | None = None,
    ) -> int:  # fmt: skip
        latest = conn.execute(
            sa.select(sa.func.max(_versions.c.version)).where(_versions.c.policy_id == policy.id)
        ).scalar_one()
        version = (latest or 0) + 1
        now = _now()
        if status == "published":
            _supersede(conn, policy.id, now)
        conn.execute(
            _versions.insert().values(
                policy_id=policy.id,
                version=version,
                status=status,
                audience=policy.audience,
                mode=policy.mode,
                valid_from=policy.valid_from,
                valid_until=policy.valid_until,
                document=document,
                source_name=source_name or f"{policy.id}.yaml",
                document_hash=_sha(document),
                content_hash=policy.content_hash,
                author=author,
                change_note=note,
                created_at=now,
                published_at=now if status == "published" else None,
                reviewer=author if status == "published" else None,
            )
        )
        return version

    def _move(
        self, policy_id: str, version: int, action: str, *, retire: Sequence[str] = (),
        **values: Any,
    ) -> None:  # fmt: skip
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(_versions).where(
                    _versions.c.policy_id == policy_id, _versions.c.version == version
                )
            ).first()
            if row is None:
                raise NotFoundError(f"policy {policy_id!r} has no version {version}")
            if action == "publish":
                check_reviewer(author=row.author, reviewer=values["reviewer"])
            status = next_status(row.status, action)
            if status == "published":
                # One published version at a time; the policies it replaces end with it.
                _supersede(conn, policy_id, _now())
                _retire_published(conn, retire, _now())
            conn.execute(
                _versions.update()
                .where(_versions.c.policy_id == policy_id, _versions.c.version == version)
                .values(status=status, **values)
            )

    def submit(self, policy_id: str, version: int) -> None:
        self._move(policy_id, version, "submit", submitted_at=_now())

    def reject(self, policy_id: str, version: int, *, reviewer: str = "", reason: str) -> None:
        """Return a version under review to its author (退回修改) with the reason they see."""
        self._move(
            policy_id, version, "reject", return_reason=check_reason(reason),
            returned_by=reviewer or None, returned_at=_now(),
        )  # fmt: skip

    def publish(
        self, policy_id: str, version: int, *, reviewer: str, retire: Sequence[str] = ()
    ) -> None:
        """Publish a version under review; its author cannot be its reviewer.  The version
        published before it is superseded, and the published versions of the policies in
        ``retire`` (those it replaces) are retired, in the same transaction."""
        self._move(
            policy_id, version, "publish", retire=retire, reviewer=reviewer, published_at=_now()
        )

    def retire(self, policy_id: str, version: int) -> None:
        self._move(policy_id, version, "retire", retired_at=_now())

    def versions(self, policy_id: str) -> list[PolicyVersion]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_versions)
                .where(_versions.c.policy_id == policy_id)
                .order_by(_versions.c.version)
            ).all()
        if not rows:
            raise NotFoundError(f"no policy {policy_id!r} in the database")
        return [_version(r) for r in rows]

    def all_versions(self) -> list[PolicyVersion]:
        """Every version of every policy (drafts and retired ones too), by policy and version."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_versions).order_by(_versions.c.policy_id, _versions.c.version)
            ).all()
        return [_version(r) for r in rows]

    def published_fingerprint(self) -> str:
        """A hash of every version that is or was published: it changes on each publish or
        retire, so a cache of the published catalog knows when to parse it again."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    _versions.c.policy_id, _versions.c.version, _versions.c.status,
                    _versions.c.document_hash,
                )
                .where(_versions.c.status.in_(("published", "superseded", "retired")))
                .order_by(_versions.c.policy_id, _versions.c.version)
            ).all()  # fmt: skip
        return hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()

    def import_catalog(self, directory: Path, *, author: str, note: str) -> dict[str, int]:
        """Publish every policy under ``directory`` whose document changed; returns the versions.

        Import is the administrative path for bringing an existing catalog in (it publishes
        directly, recorded with the importer as author and reviewer); officers' changes go
        through draft → review → publish.  The whole import is one transaction.
        """
        catalog = load_catalog([directory], self.schema)
        created: dict[str, int] = {}
        with self.engine.begin() as conn:
            for policy in catalog.policies:
                document = catalog.texts[policy.id]
                latest = conn.execute(
                    sa.select(_versions.c.document_hash)
                    .where(_versions.c.policy_id == policy.id, _versions.c.status == "published")
                    .order_by(_versions.c.version.desc())
                    .limit(1)
                ).scalar_one_or_none()
                if latest == _sha(document):
                    continue
                created[policy.id] = self._insert(
                    conn, policy, document, author=author, note=note, status="published",
                    source_name=str(catalog.sources[policy.id].relative_to(directory)),
                )  # fmt: skip
        return created

    def _in_force_rows(self, on: date | None) -> list[Any]:
        # A policy with a published version is in force; on a date its published version is
        # not yet valid, the newest superseded version valid then is (as before supersession).
        live = sa.select(_versions.c.policy_id).where(_versions.c.status == "published")
        query = sa.select(_versions).where(
            _versions.c.status.in_(("published", "superseded")), _versions.c.policy_id.in_(live)
        )
        if on is not None:
            query = query.where(
                _versions.c.valid_from <= on,
                sa.or_(_versions.c.valid_until.is_(None), _versions.c.valid_until >= on),
            )
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(_versions.c.policy_id, _versions.c.version)).all()
        newest: dict[str, Any] = {}
        for row in rows:
            newest[row.policy_id] = row  # ordered by version: the last one wins
        return list(newest.values())

    def catalog(self, on: date | None = None) -> Catalog:
        """The published catalog (as of ``on``: the newest published version valid that day)."""
        policies, sources, texts = [], {}, {}
        for row in self._in_force_rows(on):
            policy = load_policy_text(row.document, Path(f"{row.policy_id}@v{row.version}"))
            policies.append(policy)
            sources[policy.id] = Path(f"db:{row.policy_id}@v{row.version}")
            texts[policy.id] = row.document
        return Catalog(tuple(policies), sources, texts)

    def export_catalog(self, directory: Path, on: date | None = None) -> list[Path]:
        """Write each policy's newest published document to ``directory/<id>.yaml``."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for row in self._in_force_rows(on):
            path = directory / (row.source_name or f"{row.policy_id}.yaml")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(row.document, encoding="utf-8")
            written.append(path)
        return written
