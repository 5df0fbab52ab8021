"""The main flows once more on PostgreSQL (the rest of the API tests run on SQLite)."""

from __future__ import annotations

from api.app.audit import AuditLog
from tests.api.app.world import CATALOG, World

DOC = (CATALOG / "bj-elderly-allowance.yaml").read_text(encoding="utf-8")


def test_draft_review_publish_and_the_audit_chain_on_postgres(pg_world: World) -> None:
    w = pg_world
    drafted = w.client.post(
        "/api/v1/policies/drafts", headers=w.as_("officer"),
        json={"document": DOC.replace(">= 80", ">= 79"), "note": "79"},
    )  # fmt: skip
    version = drafted.json()["version"]
    base = f"/api/v1/policies/bj-elderly-allowance/versions/{version}"
    assert w.client.post(f"{base}/submit", headers=w.as_("officer")).status_code == 200
    published = w.client.post(f"{base}/approve", headers=w.as_("reviewer"))
    assert published.json()["status"] == "published"
    count, _, broken = AuditLog(w.engine).verify()
    assert (count, broken) == (3, [])


def test_a_resident_reads_only_their_own_data_on_postgres(pg_world: World) -> None:
    w = pg_world
    h = w.as_("resident")
    assert len(w.client.get("/api/v1/subjects/P1/offers", headers=h).json()) == 2
    assert w.client.get("/api/v1/subjects/P2/grants", headers=h).status_code == 404
    theirs = w.grants["P2"]
    objection = w.client.post(
        f"/api/v1/subjects/P1/grants/{theirs}/objection", headers=h, json={"text": "x"}
    )
    assert objection.status_code == 404
