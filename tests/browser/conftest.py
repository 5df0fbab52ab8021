"""Browser tests: Debian's chromium, driven by Playwright, against a live server.

Fixtures for every browser test module:

- ``live`` (one per module): a :class:`LiveWorld` — uvicorn serving ``api.app.create_app`` in a
  thread on a free port, over a fresh SQLite database holding the built-in catalog (published),
  a match run of a small synthetic population, contact points, and one user per role
  (:data:`USERS`, password :data:`PASSWORD`).  ``live.rematch()`` records a new run of the
  published catalog, e.g. after a test publishes a policy.
- ``page_as(username)``: a Playwright page logged in as that user (a session cookie of the
  user's own, in a fresh browser context); ``officer_page``, ``reviewer_page``,
  ``analyst_page``, ``resident_page``, ``enterprise_page``, ``operator_page`` and
  ``admin_page`` are the same for the user of each role.  ``phone_page_as`` gives a 390×844
  page.  A failed test saves a screenshot of every page it opened under ``test-artifacts/``
  (git-ignored; ``ZHIDA_TEST_ARTIFACTS`` moves it).

Chromium is ``/usr/bin/chromium`` (``make browsers`` installs Debian's package); Playwright's own
browser downloads are never used.  Locally the tests skip with the reason when it is missing;
under ``CI=true`` they fail.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import uvicorn
from argon2 import PasswordHasher
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy.engine import Engine

from api.app.app import create_app
from api.app.auth import SESSION_HOURS, UserStore
from core.db import get_engine, upgrade
from matcher.batch import match_population, write_pairs
from matcher.population import EventTagger, scan_population
from matcher.runs import RunStore, population_snapshot
from notifier.contacts import ContactStore
from profiles.schema import load_schema
from rules.store import PolicyStore
from tests.populations import Populations

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROOT = Path(__file__).parents[2]
CATALOG = ROOT / "rules" / "catalog"
ARTIFACTS = Path(os.environ.get("ZHIDA_TEST_ARTIFACTS", ROOT / "test-artifacts"))
# Cheap argon2 parameters: the tests check the flow, not the cost.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct-horse"
RESIDENTS, ENTERPRISES, SEED = 1500, 100, 7

# username -> (role, department); the resident and firm users get subjects of the population.
USERS: dict[str, tuple[str, str | None]] = {
    "officer": ("officer", "北京市民政局"),
    "officer2": ("officer", "北京市民政局"),
    "reviewer": ("reviewer", None),
    "analyst": ("analyst", None),
    "resident": ("resident", None),
    "enterprise": ("enterprise", None),
    "operator": ("operator", None),
    "admin": ("admin", None),
}
ROLE_PAGES = ("officer", "reviewer", "analyst", "resident", "enterprise", "operator", "admin")

SESSION_COOKIE = "zhida_session"


@dataclass
class LiveWorld:
    """The running server and what it was seeded with."""

    base_url: str
    engine: Engine
    data_dir: Path
    population: Path
    as_of: date
    resident_id: str  # the "resident" user's person_id: the resident with the most offers
    enterprise_id: str  # the "enterprise" user's enterprise_id
    users: UserStore
    tokens: dict[str, str] = field(default_factory=dict)  # username -> API token

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def bearer(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def resident(self, person_id: str | None = None) -> dict[str, Any]:
        """One resident's record as generated (default: the resident user's)."""
        wanted = person_id or self.resident_id
        frame = pl.read_parquet(self.population / "residents.parquet")
        return frame.filter(pl.col("person_id") == wanted).row(0, named=True)

    def rematch(self) -> int:
        """Match the population against the published catalog in force; returns the run id."""
        return _record_run(self.engine, self.data_dir, self.population, self.as_of)


def _record_run(engine: Engine, data_dir: Path, population: Path, as_of: date) -> int:
    schema = load_schema()
    in_force = PolicyStore(engine).catalog(as_of).in_force(as_of)
    pairs = data_dir / f"pairs-{time.monotonic_ns()}.parquet"
    pairs.parent.mkdir(parents=True, exist_ok=True)
    tagger = EventTagger.for_population(population, schema, as_of=as_of)
    write_pairs(
        match_population(
            scan_population(population, schema), in_force, schema, as_of=as_of, tagger=tagger
        ),
        pairs,
    )
    run = RunStore(engine, data_dir).record(
        pairs, as_of=as_of, catalog_hash="b" * 64, population=population_snapshot(population),
        started_at=datetime.now(UTC), seconds=0.0, policies=len(in_force),
        rule_hashes={p.id: p.content_hash for p in in_force},
    )  # fmt: skip
    pairs.unlink()
    return run.run_id


@pytest.fixture(scope="session")
def population(populations: Populations) -> Path:
    """A small synthetic population, generated once for every browser test (read only)."""
    return populations(RESIDENTS, ENTERPRISES, seed=SEED, as_of=date.today())


def _most_offered(engine: Engine, data_dir: Path, subject_type: str) -> str:
    run = RunStore(engine, data_dir).latest()
    assert run is not None
    ranked = (
        pl.read_parquet(run.pairs_file)
        .filter(pl.col("subject_type") == subject_type, pl.col("status") == "eligible")
        .group_by("subject_id")
        .len()
        .sort(["len", "subject_id"], descending=[True, False])
    )
    assert ranked.height, f"no {subject_type} of the test population is eligible for anything"
    return str(ranked["subject_id"][0])


class _ThreadedServer(uvicorn.Server):
    """uvicorn in a daemon thread; ``start`` returns once it listens."""

    def start(self) -> str:
        self._thread = threading.Thread(target=self.run, name="live-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start; see the log above")
            time.sleep(0.02)
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def live(population: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorld]:
    """A live server over a seeded database; one per test module, so modules do not interfere."""
    root = tmp_path_factory.mktemp("live")
    data_dir = root / "data"
    engine = get_engine(f"sqlite:///{root / 'zhida.db'}")
    upgrade(engine)
    as_of = date.today()
    PolicyStore(engine).import_catalog(CATALOG, author="importer", note="seed")
    _record_run(engine, data_dir, population, as_of)
    resident_id = _most_offered(engine, data_dir, "resident")
    enterprise_id = _most_offered(engine, data_dir, "enterprise")
    ContactStore(engine).replace(
        [
            {
                "subject_id": resident_id, "subject_type": "resident", "phone": "13800138000",
                "email": None, "webhook_url": None, "locale": "zh", "channels": "sms,inbox",
                "opt_out_channels": "", "opt_out_categories": "",
            }
        ]
    )  # fmt: skip
    users = UserStore(engine, FAST)
    tokens = {}
    for name, (role, department) in USERS.items():
        subject = {"resident": resident_id, "enterprise": enterprise_id}.get(role)
        user = users.create(name, PASSWORD, role=role, department=department, subject_id=subject)
        tokens[name] = users.issue(user, name="browser-tests", hours=SESSION_HOURS)
    app = create_app(
        engine, data_dir=data_dir, population=population, secure_cookies=False, hasher=FAST
    )
    server = _ThreadedServer(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    base_url = server.start()
    try:
        yield LiveWorld(
            base_url, engine, data_dir, population, as_of, resident_id, enterprise_id, users,
            tokens,
        )  # fmt: skip
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, launched once per test session."""
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is missing; `make browsers` installs Debian's chromium"
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures can tell that the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    return any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )


def _artifact_name(nodeid: str, n: int) -> str:
    """A file name for the ``n``-th page of a test.

    >>> _artifact_name("tests/browser/test_x.py::test_y[zh]", 1)
    'test_x.py-test_y-zh-1.png'
    """
    tail = nodeid.rsplit("/", maxsplit=1)[-1]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", tail).strip("-") + f"-{n}.png"


PageFactory = Callable[..., Any]


@pytest.fixture
def page_as(request: pytest.FixtureRequest, browser: Any, live: LiveWorld) -> Iterator[PageFactory]:
    """``page_as(username, lang="zh", width=1280, height=800)``: a logged-in page."""
    contexts: list[Any] = []
    pages: list[Any] = []

    def open_page(username: str, *, lang: str = "zh", width: int = 1280, height: int = 800) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            locale="zh-CN" if lang == "zh" else "en-US",
        )
        contexts.append(context)
        user = live.users.get(username)
        secret = live.users.issue(user, kind="session", name="browser", hours=SESSION_HOURS)
        context.add_cookies(
            [
                {"name": SESSION_COOKIE, "value": secret, "url": live.base_url},
                {"name": "zhida_lang", "value": lang, "url": live.base_url},
            ]
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        pages.append(page)
        return page

    yield open_page
    if _failed(request):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for n, page in enumerate(pages, start=1):
            target = ARTIFACTS / _artifact_name(request.node.nodeid, n)
            try:
                page.screenshot(path=str(target), full_page=True)
            except PlaywrightError as err:  # a screenshot must not hide the failure
                print(f"could not save a screenshot to {target}: {err}")
            else:
                print(f"screenshot of the failed test's page {n}: {target}")
    for context in contexts:
        context.close()


@pytest.fixture
def phone_page_as(page_as: PageFactory) -> PageFactory:
    """Like ``page_as`` on a phone-sized screen (390×844)."""

    def open_page(username: str, *, lang: str = "zh") -> Any:
        return page_as(username, lang=lang, width=390, height=844)

    return open_page


@pytest.fixture
def officer_page(page_as: PageFactory) -> Any:
    return page_as("officer")


@pytest.fixture
def reviewer_page(page_as: PageFactory) -> Any:
    return page_as("reviewer")


@pytest.fixture
def analyst_page(page_as: PageFactory) -> Any:
    return page_as("analyst")


@pytest.fixture
def resident_page(page_as: PageFactory) -> Any:
    return page_as("resident")


@pytest.fixture
def enterprise_page(page_as: PageFactory) -> Any:
    return page_as("enterprise")


@pytest.fixture
def operator_page(page_as: PageFactory) -> Any:
    return page_as("operator")


@pytest.fixture
def admin_page(page_as: PageFactory) -> Any:
    return page_as("admin")
