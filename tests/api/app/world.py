"""A small world for the API tests: one user per role, two residents' data, one policy."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import polars as pl
from argon2 import PasswordHasher
from litestar.testing import TestClient
from sqlalchemy.engine import Engine

from api.app.access import SESSION_COOKIE
from api.app.app import create_app
from api.app.auth import UserStore, csrf_token
from core.db import get_engine, upgrade
from matcher.runs import RunStore
from notifier.channels.inbox import inbox_messages
from notifier.grants import GrantStore
from rules.store import PolicyStore

# Cheap argon2 parameters: the tests check the flow, not the cost.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct-horse"
CATALOG = Path(__file__).parents[3] / "rules" / "catalog"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# username -> (role, department, subject)
USERS = {
    "officer": ("officer", "北京市民政局", None),
    "officer2": ("officer", "北京市人力资源和社会保障局", None),
    "reviewer": ("reviewer", None, None),
    "analyst": ("analyst", None, None),
    "resident": ("resident", None, "P1"),
    "resident2": ("resident", None, "P2"),
    "enterprise": ("enterprise", None, "911100000000000001"),
    "operator": ("operator", None, None),
    "admin": ("admin", None, None),
}


@dataclass(frozen=True)
class World:
    engine: Engine
    client: TestClient  # type: ignore[type-arg]
    tokens: dict[str, str]
    grants: dict[str, int]  # subject -> its grant id
    messages: dict[str, int]  # subject -> its inbox message id

    def as_(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def _seed(engine: Engine, data_dir: Path, tmp_path: Path) -> tuple[dict[str, int], dict[str, int]]:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    shutil.copy(CATALOG / "bj-elderly-allowance.yaml", catalog)
    PolicyStore(engine).import_catalog(catalog, author="importer", note="seed")
    pairs = tmp_path / "pairs.parquet"
    pl.DataFrame(
        {
            "subject_id": ["P1", "P2", "P1"],
            "subject_type": ["resident"] * 3,
            "policy_id": ["bj-elderly-allowance", "bj-elderly-allowance", "bj-elderly-card"],
            "status": ["eligible", "eligible", "maybe"],
            "benefit": [100.0, 500.0, None],
        }
    ).write_parquet(pairs)
    RunStore(engine, data_dir).record(
        pairs, as_of=date(2026, 3, 1), catalog_hash="c" * 64, population="p" * 64,
        started_at=AT, seconds=1.0, policies=2,
    )  # fmt: skip
    grants, messages = {}, {}
    with engine.begin() as conn:
        for subject in ("P1", "P2"):
            GrantStore.open(
                conn, subject_id=subject, subject_type="resident",
                policy_id="bj-elderly-allowance", policy_version="1", benefit=Decimal(100),
                benefit_period="month", start=date(2026, 3, 1), objection_until=date(2026, 3, 31),
                department="北京市民政局", evidence={"clauses": []}, notice_key=f"n-{subject}",
                now=AT,
            )  # fmt: skip
            conn.execute(
                inbox_messages.insert().values(
                    idempotency_key=f"k-{subject}",
                    subject_id=subject,
                    subject_type="resident",
                    policy_ids="bj-elderly-allowance",
                    locale="zh",
                    title=f"致 {subject}",
                    body="高龄津贴",
                    created_at=AT.replace(tzinfo=None),
                )
            )
    for subject in ("P1", "P2"):
        grants[subject] = GrantStore(engine).of(subject)[0].id
        from notifier.channels.inbox import InboxStore

        messages[subject] = InboxStore(engine).messages(subject)[0].id
    return grants, messages


def make_world(url: str, tmp_path: Path, population: Path | None = None) -> Iterator[World]:
    engine = get_engine(url)
    upgrade(engine)
    data_dir = tmp_path / "data"
    grants, messages = _seed(engine, data_dir, tmp_path)
    users = UserStore(engine, FAST)
    tokens = {}
    for name, (role, department, subject) in USERS.items():
        user = users.create(name, PASSWORD, role=role, department=department, subject_id=subject)
        tokens[name] = users.issue(user)
    app = create_app(
        engine, data_dir=data_dir, population=population, secure_cookies=False, hasher=FAST
    )
    with TestClient(app) as client:
        client.event_hooks["request"].append(send_csrf_token)
        yield World(engine, client, tokens, grants, messages)


def send_csrf_token(request: httpx.Request) -> None:
    """What the console's pages do: every change a session makes carries its CSRF token
    (api.app.csrf); tests/api/app/test_security_csrf.py sends requests without it."""
    for part in request.headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and "x-csrf-token" not in request.headers:
            request.headers["X-CSRF-Token"] = csrf_token(value)
