from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from api.app.app import create_app
from api.app.demo import demo_lines, seed_demo_users
from api.commands.demo_api import BIRTH, api_lines, newly_eligible_by
from core.db import get_engine, upgrade
from core.settings import get_settings
from matcher.batch import match_frame, match_population, write_pairs
from matcher.live.ledger import subject_match_changes
from matcher.population import EventTagger, attach_tags, scan_population
from matcher.runs import RunStore
from notifier.contacts import ContactStore
from notifier.tables import outbox
from profiles.schema import load_schema
from rules.loader import load_catalog, load_policy_text
from simulations.contacts import synthetic_contacts
from simulations.population import GenerationSpec, generate_population
from simulations.privacy import DEFAULT
from tests.api.app.world import CATALOG, FAST

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


def test_demo_seeding_audits_users_and_tokens_and_checkpoints_each_entry(
    sqlite_url: str,
) -> None:
    from api.app.audit import AuditLog, audit_log
    from api.app.checkpoints import Checkpoints

    engine = get_engine(sqlite_url)
    upgrade(engine)
    seed_demo_users(engine, resident_id="P1", enterprise_id=FIRM, hasher=FAST)
    seed_demo_users(engine, resident_id="P1", enterprise_id=FIRM, hasher=FAST)
    log = AuditLog(engine, Checkpoints.configured())
    actions = [e.action for e in log.entries(limit=100)]
    assert actions.count("user.create") == 7 and actions.count("token.issue") == 14
    assert log.checkpoints is not None
    points, bad = log.checkpoints.read()
    assert bad == [] and sorted(p.id for p in points) == sorted(
        e.id for e in log.entries(limit=100)
    )
    assert log.verify(points)[2] == []
    # The demo's newest entry deleted: its checkpoint tells.
    newest = max(p.id for p in points)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        conn.execute(audit_log.delete().where(audit_log.c.id == newest))
    broken = log.verify(points)[2]
    assert [b.id for b in broken] == [newest]


def test_the_api_step_prints_what_the_api_answered_and_the_event_is_told(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step 15 of the demo: a dry-run, a test panel and a birth registration through the API."""
    monkeypatch.setenv("ZHIDA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ZHIDA_QUIET_HOURS", "")  # the notice goes out whatever the hour
    settings = get_settings()
    engine = get_engine(sqlite_url)
    upgrade(engine)
    as_of = datetime.now(settings.tz).date()
    population = tmp_path / "population"
    generate_population(GenerationSpec(1_500, 150, seed=2, as_of=as_of), population)
    schema = load_schema()
    in_force = load_catalog([CATALOG], schema).in_force(as_of)
    pairs = tmp_path / "pairs.parquet"
    tagger = EventTagger.for_population(population, schema, as_of=as_of)
    write_pairs(
        match_population(scan_population(population, schema), in_force, schema, as_of=as_of,
                         tagger=tagger),
        pairs,
    )  # fmt: skip
    RunStore(engine, settings.data_dir).record(
        pairs, as_of=as_of, catalog_hash="c" * 64, population="p" * 64,
        started_at=datetime.now(UTC), seconds=1.0, policies=len(in_force),
    )  # fmt: skip
    residents = pl.read_parquet(population / "residents.parquet")["person_id"].to_list()
    ContactStore(engine).replace(synthetic_contacts(residents, [], seed=2))
    draft = tmp_path / "draft.yaml"
    text = (CATALOG / "bj-elderly-allowance.yaml").read_text()
    draft.write_text(text.replace("age >= 80", "age >= 75"))
    users = seed_demo_users(engine, resident_id=residents[0], enterprise_id=FIRM, hasher=FAST)

    lines = list(api_lines(engine, settings, population, CATALOG, draft, users, seed=2))
    printed = "\n".join(lines)

    # The dry-run's reach is the draft's own match of the population with its noise (within
    # the interval a discrete Laplace of the published scale leaves once in a million).
    policy = load_policy_text(draft.read_text(), draft, schema)
    frames = attach_tags(scan_population(population, schema), population, schema, as_of=as_of)
    reach = match_frame({"resident": frames["resident"]}, [policy], schema, as_of=as_of)
    eligible = reach.filter(pl.col("status") == "eligible").height
    shown = re.search(r"as of \S+: ([\d,]+) eligible", printed)
    assert eligible >= 10 and shown is not None
    assert abs(int(shown.group(1).replace(",", "")) - eligible) <= DEFAULT.count_scale * 14
    assert "the same draft again: cached" in printed
    newly = newly_eligible_by(draft.read_text(), pairs, population, as_of=as_of)
    assert newly is not None and "newly eligible under the draft): eligible" in printed
    # The event: what the change table, the offers and the ledger hold is what was printed.
    with engine.connect() as conn:
        (change,) = conn.execute(sa.select(subject_match_changes)).mappings().all()
        rows = conn.execute(
            sa.select(outbox.c.channel, outbox.c.status).where(
                outbox.c.subject_id == change["subject_id"]
            )
        ).all()
    assert change["change"] == "newly_eligible"
    assert f"{BIRTH} of resident {change['subject_id']} → {change['cause']}" in printed
    assert f"{change['policy_id']} eligible" in printed  # the offer since the run
    assert rows and all(status == "delivered" for _, status in rows)
    for channel, _ in rows:
        assert f"by {channel}: delivered" in printed
