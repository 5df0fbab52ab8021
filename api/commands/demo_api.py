"""The API step of ``zhida demo``: an officer, a test panel and a department's event, in process.

The app is driven through litestar's test client with the demo users' tokens, exactly as a
browser or another system would call it over HTTP: the officer dry-runs the draft that step 12
wrote (reach and cost by district, counts under 10 hidden), tests it on one resident the draft
makes newly eligible, and a department's system sends a birth registration (出生登记) for a
resident whom it makes newly eligible for something.  The offer change it caused, the notice it
planned and what the SMS gateway stand-in and its delivery report say are printed: every figure
is what the API or the ledger answered, nothing is assumed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Engine

from api.app.demo import DemoUser
from core.errors import ZhidaError
from core.settings import Settings

__all__ = ["BIRTH", "api_lines", "birth_candidate", "newly_eligible_by"]

BIRTH = "birth_registration"  # the service event the demo's department sends
_SCANNED = 3_000  # residents tried for the birth event, at most


@dataclass(frozen=True)
class _Client:
    """The test client and the demo users' Authorization headers, by role."""

    http: Any  # litestar.testing.TestClient
    headers: Mapping[str, dict[str, str]]

    def call(self, method: str, path: str, role: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, headers=self.headers[role], **kwargs)
        if response.status_code >= 400:
            message = response.json().get("error", {}).get("message", response.text)
            raise ZhidaError(
                f"the demo's {method} {path} as {role} was answered {response.status_code}: "
                f"{message}"
            )
        return response.json()


def api_lines(
    engine: Engine, settings: Settings, population_dir: Path, catalog_dir: Path, draft: Path,
    users: Sequence[DemoUser], *, seed: int,
) -> Iterator[str]:  # fmt: skip
    """Publish the catalog, then drive the API as the officer and a department; what it said."""
    from litestar.testing import TestClient

    from api.app.app import create_app
    from rules.store import PolicyStore

    published = PolicyStore(engine).import_catalog(
        catalog_dir, author="zhida demo", note="the built-in catalog"
    )
    yield (
        f"published {len(published)} new policy version(s) of the built-in catalog into the "
        "policy store (the officer console's, the API's and event matching's catalog)"
    )
    headers = {u.role: {"Authorization": f"Bearer {u.token}"} for u in users}
    root = logging.getLogger()
    level = root.level
    app = create_app(engine, data_dir=settings.data_dir, population=population_dir)
    with TestClient(app) as http:
        # The app's logging config sets the root logger to INFO, as a server's log wants; the
        # demo prints what the API answered instead of each request and SMTP connection.
        root.setLevel(level)
        client = _Client(http, headers)
        document = draft.read_text()
        yield from _dry_run(client, document)
        yield from _test_panel(client, engine, settings, population_dir, document)
        yield from _event(client, engine, settings, population_dir, seed=seed)


def _dry_run(client: _Client, document: str) -> Iterator[str]:
    path = "/api/v1/policies/dry-run"
    figures = client.call("POST", path, "officer", json={"document": document})
    figures["cost_per_year"] = _yuan(figures["cost_per_year"])
    versus = figures["versus_published"]
    change = (
        f"; against published v{versus['published_version']}: "
        f"+{_count(versus['newly_eligible'])} newly eligible, "
        f"-{_count(versus['no_longer_eligible'])} no longer"
        if versus
        else "; no published version to compare"
    )
    yield (
        f"officer POST {path} ({figures['policy_id']}, the draft of step 12) on "
        f"{figures['population']:,} {figures['entity']}s as of {figures['as_of']}: "
        f"{_count(figures['eligible'])} eligible, {_count(figures['maybe'])} maybe, cost "
        f"{figures['cost_per_year']} CNY a year{change} ({figures['elapsed_ms']} ms)"
    )
    districts = figures["by_group"].get("district", [])
    shown = sorted(
        (g for g in districts if isinstance(g["eligible"], int)), key=lambda g: -g["eligible"]
    )
    hidden = len(districts) - len(shown)
    yield (
        "  by district (k-anonymous: counts under 10 as <10, their cost as —): "
        + ", ".join(
            f"{g['group']} {g['eligible']:,} ({_yuan(g['cost_per_year'])} CNY/yr)"
            for g in shown[:3]
        )
        + (f"; {hidden} district(s) under 10" if hidden else "")
    )
    again = client.call("POST", path, "officer", json={"document": document})
    yield (
        f"  the same draft again: {'cached' if again['cached'] else 'computed'}, "
        f"{again['elapsed_ms']} ms"
    )


def _count(n: int | str) -> str:
    """A count with thousands separators; "<10" (hidden) as it is."""
    return f"{n:,}" if isinstance(n, int) else n


def _yuan(amount: str) -> str:
    """A decimal string of yuan with thousands separators; "—" (hidden) as it is.

    >>> _yuan("403200.00"), _yuan("—")
    ('403,200', '—')
    """
    try:
        return f"{Decimal(amount):,.0f}"
    except InvalidOperation:
        return amount


def newly_eligible_by(
    document: str, pairs: Path, population_dir: Path, *, as_of: date
) -> str | None:
    """The first resident (by id) eligible under the draft ``document`` and not in ``pairs``."""
    from matcher.batch import match_population
    from matcher.population import EventTagger, scan_population
    from profiles.schema import load_schema
    from rules.loader import load_policy_text

    schema = load_schema()
    policy = load_policy_text(document, Path("<draft>"), schema)
    tagger = EventTagger.for_population(population_dir, schema, as_of=as_of)
    frames: dict[str, pl.LazyFrame] = {
        k: v for k, v in scan_population(population_dir, schema).items() if k == policy.audience
    }
    batches = list(match_population(frames, [policy], schema, as_of=as_of, tagger=tagger))
    if not batches:
        return None
    eligible = pl.concat(batches).filter(pl.col("status") == "eligible").select("subject_id")
    before = (
        pl.scan_parquet(pairs)
        .filter((pl.col("policy_id") == policy.id) & (pl.col("status") == "eligible"))
        .select("subject_id")
        .collect()
    )
    newly = eligible.join(before, on="subject_id", how="anti").sort("subject_id")
    return str(newly["subject_id"][0]) if newly.height else None


def _test_panel(
    client: _Client, engine: Engine, settings: Settings, population_dir: Path, document: str
) -> Iterator[str]:
    from matcher.runs import RunStore

    run = RunStore(engine, settings.data_dir).latest()
    assert run is not None
    subject = newly_eligible_by(document, run.pairs_file, population_dir, as_of=run.as_of)
    if subject is None:
        yield "test panel: the draft makes no resident newly eligible, nobody to test it on"
        return
    path = "/api/v1/policies/test?lang=en"
    out = client.call("POST", path, "officer", json={"document": document, "subject_id": subject})
    benefit = f", {out['benefit']} CNY per {out['benefit_period']}" if out["benefit"] else ""
    yield (
        f"officer POST /api/v1/policies/test on resident {out['subject']} (the id masked; "
        f"newly eligible under the draft): {out['status_words']}{benefit}"
    )
    for c in out["clauses"]:
        values = ", ".join(f"{k} {v}" for k, v in c["values"].items())
        yield f"  {c['words']}: {c['value_words']} ({values})"


def birth_candidate(
    engine: Engine, population_dir: Path, run_pairs: Path, policies: Sequence[Any],
    *, at: datetime, as_of: date,
) -> tuple[str, list[str]] | None:  # fmt: skip
    """A resident not yet told anything whom a birth registration at ``at`` makes newly
    eligible, and for which policies — found with the same event-driven matcher the API uses."""
    from matcher.events import EventMatcher
    from matcher.population import scan_population
    from notifier.outbox import Outbox
    from profiles.schema import load_schema
    from profiles.tagging import load_tags

    schema = load_schema()
    told = Outbox(engine).subjects()
    residents = (
        scan_population(population_dir, schema)["resident"]
        .filter(~pl.col("person_id").is_in(list(told)))
        .sort("person_id")
        .head(_SCANNED)
        .collect()
    )
    ids = residents["person_id"].to_list()
    events = pl.read_parquet(population_dir / "events.parquet").filter(
        pl.col("subject_id").is_in(ids)
    )
    pairs = pl.scan_parquet(run_pairs).filter(pl.col("subject_id").is_in(ids)).collect()
    matcher = EventMatcher(
        policies, load_tags(schema=schema), schema, entity="resident", as_of=as_of
    )
    by_subject = events.partition_by("subject_id", as_dict=True)
    matches = pairs.partition_by("subject_id", as_dict=True)
    event = {"subject_type": "resident", "item_code": BIRTH, "occurred_at": at}
    for record in residents.iter_rows(named=True):
        pid = record["person_id"]
        own = by_subject.get((pid,))
        mine = matches.get((pid,))
        matcher.load(
            pid, record, own.to_dicts() if own is not None else [],
            {
                r["policy_id"]: (r["status"], None if r["benefit"] is None
                                 else Decimal(str(r["benefit"])))
                for r in (mine.to_dicts() if mine is not None else [])
            },
        )  # fmt: skip
        gained = [
            c.policy_id
            for c in matcher.on_event({**event, "subject_id": pid})
            if c.change == "newly_eligible"
        ]
        if gained:
            return pid, gained
    return None


def _event(
    client: _Client, engine: Engine, settings: Settings, population_dir: Path, *, seed: int
) -> Iterator[str]:
    from api.app.services import services
    from matcher.runs import RunStore

    svc = services(client.http)
    run = RunStore(engine, settings.data_dir).latest()
    assert run is not None
    at = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    as_of = svc.live.as_of()  # the date the API's ingestion evaluates on
    catalog = svc.dry_runs.published.get(svc.policies, as_of)[1].catalog
    found = birth_candidate(
        engine, population_dir, run.pairs_file, catalog.policies, at=at, as_of=as_of
    )
    if found is None:
        yield f"no resident among the first {_SCANNED:,} untold is made eligible by a {BIRTH}"
        return
    subject, _ = found
    body = {"subject_id": subject, "subject_type": "resident", "item_code": BIRTH,
            "occurred_at": at.isoformat()}  # fmt: skip
    result = client.call("POST", "/api/v1/events", "admin", json=body)
    changes = "; ".join(
        f"{c['policy_id']} {c['change']} ({c['old_status'] or '—'} → {c['new_status'] or '—'}"
        + (f", {c['new_benefit']} CNY" if c["new_benefit"] else "")
        + ")"
        for c in result["changes"]
    )
    decisions = ", ".join(f"{n} {d}" for d, n in sorted(result["planned"].items()))
    yield (
        f"a department's system POST /api/v1/events: {BIRTH} of resident {subject} → "
        f"{result['cause']}: {changes or 'no change'}; planned: {decisions}; "
        f"{result['messages']} notice(s) in the outbox"
    )
    offers = client.call("GET", f"/api/v1/subjects/{subject}/offers", "admin")
    gained = [o for o in offers if o["cause"] == result["cause"]]
    yield (
        f"  GET /api/v1/subjects/{subject}/offers: {len(offers)} offer(s), of them since the "
        f"run {run.run_id}: "
        + (", ".join(f"{o['policy_id']} {o['status']}" for o in gained) or "none")
    )
    yield from _deliver(engine, settings, subject, result["cause"], seed=seed)


def _deliver(
    engine: Engine, settings: Settings, subject: str, cause: str, *, seed: int
) -> Iterator[str]:
    """Deliver the notices planned for ``cause`` to the stand-ins; what each far side said."""
    from notifier.campaign import deliver_in_process
    from notifier.channels.registry import channels_from_settings, close_channels
    from notifier.outbox import Outbox
    from notifier.receipts import ReceiptStore
    from simulations.gateways import StandIns

    ids = Outbox(engine).ids_of_cause(cause)
    if not ids:
        return
    with StandIns(seed=seed) as stand_ins:
        env = {**os.environ, **stand_ins.env(), "ZHIDA_DATABASE_URL": settings.database_url}
        env.pop("ZHIDA_REDIS_URL", None)  # in-process, as the rest of the demo
        local = Settings.from_env(env)
        channels = channels_from_settings(local, engine)
        try:
            deliver_in_process(local, channels, ids=ids)
        finally:
            close_channels(channels)
        texts = {r.idempotency_key: r.text for r in stand_ins.sms.received() if r.accepted}
    ledger = Outbox(engine)
    reached = {
        r.message_key
        for r in ReceiptStore(engine).for_subject(subject)
        if r.event == "delivered" and r.channel == "sms"
    }
    for row in (ledger.get(i) for i in ids):
        line = f"  notice {row.purpose} by {row.channel}: {row.status}"
        if row.status != "delivered":
            why = f"; {row.last_error}" if row.last_error else ""
            line += f" (due {row.not_before:%Y-%m-%d %H:%M} UTC{why})"
        if row.channel == "sms":
            handset = "reached the handset" if row.idempotency_key in reached else "no report yet"
            line += f"; delivery report: {handset}"
        yield line
        if row.idempotency_key in texts:
            yield f"    the gateway received: {texts[row.idempotency_key]}"
