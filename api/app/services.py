"""What the handlers call: the existing stores, built once per app and kept on its state."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.engine import Engine

from api.app.audit import AuditLog
from api.app.auth import User, UserStore
from api.app.errors import AuthenticationError
from api.app.throttle import LoginThrottle
from core.db import head_revision
from matcher.live.offers import OfferCache
from matcher.live.source import DatabaseSource, FileSource, LayeredSource, SubjectSource
from matcher.live.state import LiveStores
from matcher.runs import RunStore
from notifier.channels.inbox import InboxStore
from notifier.contacts import ContactStore
from notifier.grants import GrantStore
from rules.store import PolicyStore
from simulations.budget import PrivacyBudget
from simulations.jobs import SimulationRunner
from simulations.preview_cache import DryRunCache

__all__ = ["Services", "log_in", "services"]


@dataclass(frozen=True)
class Services:
    engine: Engine
    data_dir: Path
    users: UserStore
    audit: AuditLog
    policies: PolicyStore
    runs: RunStore
    inbox: InboxStore
    grants: GrantStore
    contacts: ContactStore
    population: Path | None  # the population directory `explain` reads profiles from
    secure_cookies: bool
    offers: OfferCache  # the latest run's pairs indexed by subject
    head_revision: str  # the migrations this code expects (for /health)
    throttle: LoginThrottle  # failed logins per username
    dry_runs: DryRunCache  # dry-run results by (document, population, catalog, date)
    simulations: SimulationRunner  # simulations started through the API, run in the background
    subjects: SubjectSource  # the database over the population files: explain, panel, ingestion
    live: LiveStores  # event-driven matching's stores (matcher.live)
    privacy: PrivacyBudget  # noisy releases kept, each user's privacy budget

    @classmethod
    def build(
        cls, engine: Engine, data_dir: Path, *, population: Path | None = None,
        secure_cookies: bool = True, hasher: PasswordHasher | None = None,
    ) -> Services:  # fmt: skip
        from profiles.schema import load_schema

        schema, runs, offers = load_schema(), RunStore(engine, data_dir), OfferCache()
        files = FileSource(population, schema, indexed=True) if population is not None else None
        subjects = LayeredSource(DatabaseSource(engine, schema), files)
        return cls(
            engine=engine, data_dir=data_dir, users=UserStore(engine, hasher),
            audit=AuditLog(engine),
            policies=PolicyStore(engine), runs=runs,
            inbox=InboxStore(engine), grants=GrantStore(engine), contacts=ContactStore(engine),
            population=population, secure_cookies=secure_cookies, offers=offers,
            head_revision=head_revision(), throttle=LoginThrottle(), dry_runs=DryRunCache(),
            simulations=SimulationRunner(engine, data_dir), subjects=subjects,
            live=LiveStores(engine, runs, offers, subjects), privacy=PrivacyBudget(engine),
        )  # fmt: skip


def log_in(svc: Services, username: str, password: str) -> User:
    """Check a password, refusing while the username is locked by failed attempts."""
    now = time.monotonic()
    svc.throttle.check(username, now=now)
    try:
        user = svc.users.authenticate(username, password)
    except AuthenticationError:
        svc.throttle.failed(username, now=now)
        raise
    svc.throttle.succeeded(username)
    return user


def services(request: Any) -> Services:
    """The app's services, from any request or connection."""
    found = request.app.state["services"]
    assert isinstance(found, Services)
    return found
