from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from api.app.app import create_app
from api.app.demo import demo_lines, seed_demo_users
from core.db import get_engine, upgrade
from tests.api.app.world import FAST

FIRM = "911100000000000001"


def test_demo_users_cover_every_role_and_their_tokens_work(sqlite_url: str, tmp_path: Path) -> None:
    engine = get_engine(sqlite_url)
    upgrade(engine)
    first = seed_demo_users(engine, resident_id="P1", enterprise_id=FIRM, hasher=FAST)
    again = seed_demo_users(engine, resident_id="P1", enterprise_id=FIRM, hasher=FAST)
    assert sorted(u.role for u in first) == sorted(
        ["officer", "reviewer", "analyst", "resident", "enterprise", "operator", "admin"]
    )
    assert all(u.password for u in first) and not any(u.password for u in again)
    with TestClient(create_app(engine, data_dir=tmp_path)) as client:
        for u in again:
            me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {u.token}"})
            assert me.json()["role"] == u.role
    lines = demo_lines(first, "http://127.0.0.1:8000")
    assert "/api/v1/subjects/P1/offers" in lines[-1]
