"""Dry-run reach of a draft policy on the current population, computed once per input.

A dry-run matches the draft beside the published catalog (:func:`simulations.reach.simulate_reach`)
and reads off what an officer needs before submitting: eligible and maybe, cost per period and
per year, the same by group, who gains and who loses against the published version, and which
published policies share its eligible subjects.  Counts under :data:`K_ANONYMITY` are shown as
``"<10"``, and the cost of so few eligible as ``"—"`` (it would give the count away).

The draft's validity dates are ignored: the preview answers "if this rule applied on the as-of
date", so a draft starting next year still shows its reach.

At a million residents one computation takes seconds, so results are kept per
(document, population snapshot, published catalog, as-of date) in a small LRU, and concurrent
requests for the same key share one computation (:class:`SingleFlight`): the first caller
computes, the others wait for its result.  Distinct computations run one at a time (each holds a
population's worth of columns); polars already uses every core for one.

>>> flight = SingleFlight(maxsize=2)
>>> flight.get("a", lambda: 1), flight.get("a", lambda: 2)
((1, False), (1, True))
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

import polars as pl

from rules.loader import Catalog
from rules.policy import Policy

__all__ = [
    "DIMENSIONS",
    "K_ANONYMITY",
    "DryRunCache",
    "SingleFlight",
    "compute_dry_run",
    "snapshot_of",
    "suppress",
]

# Counts under this many subjects are shown as "<10": a group so small could name a person.
K_ANONYMITY: Final = 10
DIMENSIONS: Final = {"resident": ("district", "age_band"), "enterprise": ("district", "size_class")}

T = TypeVar("T")


def suppress(count: int, k: int = K_ANONYMITY) -> int | str:
    """A count, or ``"<k"`` when it is positive and under ``k`` (zero is not identifying).

    >>> suppress(9), suppress(10), suppress(0)
    ('<10', 10, 0)
    """
    return f"<{k}" if 0 < count < k else count


class SingleFlight(Generic[T]):
    """Results by key, newest ``maxsize`` kept; one computation per key at a time.

    Errors are not kept: the next caller computes again.  ``slots`` bounds how many distinct
    keys compute at once (the others wait for a slot).  :meth:`aget` is the same for async
    callers: a caller waiting on another's computation holds no thread, so a server's thread
    pool stays free for other requests while a million residents are matched.
    """

    def __init__(self, maxsize: int = 64, slots: int = 1) -> None:
        self._lock = threading.Lock()
        self._done: OrderedDict[Hashable, T] = OrderedDict()
        self._running: dict[Hashable, Future[T]] = {}
        self._slots = threading.BoundedSemaphore(slots)
        self._nslots = slots
        self._limiter: Any = None  # anyio.CapacityLimiter, made in the event loop
        self.maxsize = maxsize
        self.computed = 0  # how many computations ran (for tests and the bench)

    def _claim(self, key: Hashable) -> tuple[bool, Any, Future[T] | None]:
        """(hit, cached value, the future to wait on — None when the caller must compute)."""
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                return True, self._done[key], None
            future = self._running.get(key)
            if future is not None:
                return False, None, future
            self._running[key] = Future()
            return False, None, None

    def __contains__(self, key: Hashable) -> bool:
        """Whether ``key``'s value is kept (it may be evicted right after)."""
        with self._lock:
            return key in self._done

    def _compute(self, compute: Callable[[], T]) -> T:
        with self._slots:
            return compute()

    def _settle(self, key: Hashable, value: Any = None, error: BaseException | None = None) -> None:
        with self._lock:
            future = self._running.pop(key)
            if error is None:
                self.computed += 1
                self._done[key] = value
                while len(self._done) > self.maxsize:
                    self._done.popitem(last=False)
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)

    def get(self, key: Hashable, compute: Callable[[], T]) -> tuple[T, bool]:
        """The value of ``key`` and whether it came from the cache (or another's computation)."""
        hit, value, future = self._claim(key)
        if hit:
            return value, True
        if future is not None:
            return future.result(), True
        try:
            value = self._compute(compute)
        except BaseException as exc:
            self._settle(key, error=exc)
            raise
        self._settle(key, value)
        return value, False

    async def aget(self, key: Hashable, compute: Callable[[], T]) -> tuple[T, bool]:
        """:meth:`get` for async callers: the computation runs on a worker thread."""
        import asyncio

        import anyio.to_thread

        hit, value, future = self._claim(key)
        if hit:
            return value, True
        if future is not None:
            return await asyncio.wrap_future(future), True
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._nslots)
        try:
            value = await anyio.to_thread.run_sync(self._compute, compute, limiter=self._limiter)
        except BaseException as exc:
            self._settle(key, error=exc)
            raise
        self._settle(key, value)
        return value, False


class DryRunCache:
    """What the app keeps between dry-runs: results, and the population's snapshot id."""

    def __init__(self, maxsize: int = 64) -> None:
        self.results: SingleFlight[dict[str, Any]] = SingleFlight(maxsize)
        self.published = PublishedCache()
        self._snapshots: dict[Path, tuple[tuple[Any, ...], str]] = {}
        self._lock = threading.Lock()

    def snapshot(self, population: Path) -> str:
        """The population's content hash, recomputed only when a file's size or time changes."""
        stamp = tuple(
            (p.name, s.st_size, s.st_mtime_ns)
            for p in sorted(population.glob("*.parquet"))
            for s in (p.stat(),)
        )
        with self._lock:
            known = self._snapshots.get(population)
        if known is not None and known[0] == stamp:
            return known[1]
        digest = snapshot_of(population)
        with self._lock:
            self._snapshots[population] = (stamp, digest)
        return digest


def snapshot_of(population: Path) -> str:
    """A content hash of the population's Parquet files (``matcher.runs.population_snapshot``)."""
    from matcher.runs import population_snapshot

    return population_snapshot(population)


def document_hash(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Published:
    """The published catalog as of the dry-run's date, and the published version numbers."""

    catalog: Catalog
    versions: dict[str, int]  # policy id -> the published version in force


def _preview(draft: Policy, as_of: date) -> Policy:
    """The draft as if in force on ``as_of`` (validity dates do not hide its reach)."""
    valid_until = draft.valid_until
    if valid_until is not None and valid_until < as_of:
        valid_until = None
    return replace(draft, valid_from=min(draft.valid_from, as_of), valid_until=valid_until)


def _money(value: Any) -> str:
    return str(Decimal(str(value or 0)).quantize(Decimal("0.01")))


HIDDEN: Final = "—"


def _cost(value: Any, eligible: int) -> str:
    """The cost in yuan, or ``"—"`` when the eligible count is suppressed: a cost is a count
    times a benefit, so it would give the count away.

    >>> _cost(1200, 12), _cost(1200, 5), _cost(0, 0)
    ('1200.00', '—', '0.00')
    """
    return HIDDEN if isinstance(suppress(eligible), str) else _money(value)


def compute_dry_run(
    draft: Policy, published: Published, population: Path, *, as_of: date
) -> dict[str, Any]:
    """The dry-run of ``draft`` (everything but ``elapsed_ms``): see the module docstring."""
    from profiles.schema import load_schema
    from simulations.reach import simulate_reach

    schema = load_schema()
    preview = _preview(draft, as_of)
    old = published.catalog.by_id.get(draft.id)
    others = tuple(p for p in published.catalog.policies if p.id != draft.id)
    reform = Catalog((*others, preview), {}, {})
    # The same rule as published: simulate it as an addition (a change it would skip), and
    # nobody gains or loses against the published version.
    same = old is not None and old.content_hash == preview.content_hash
    baseline = Catalog(others, {}, {}) if same else published.catalog
    reach = simulate_reach(population, baseline, reform, schema, as_of=as_of)
    row = reach.policies.filter(pl.col("policy_id") == draft.id)
    totals: dict[str, Any] = row.row(0, named=True) if row.height else {}
    entity = draft.audience
    eligible = int(totals.get("eligible_after", 0))
    versus = None
    if old is not None:
        versus = {
            "published_version": published.versions[draft.id],
            "newly_eligible": 0 if same else suppress(int(totals.get("newly_eligible", 0))),
            "no_longer_eligible": 0 if same else suppress(int(totals.get("no_longer_eligible", 0))),
        }
    return {
        "policy_id": draft.id,
        "entity": entity,
        "as_of": as_of.isoformat(),
        "population": _population_size(population, entity),
        "eligible": suppress(eligible),
        "maybe": suppress(int(totals.get("maybe_after", 0))),
        "cost_per_period": _cost(totals.get("cost_period_after"), eligible),
        "cost_per_year": _cost(totals.get("cost_year_after"), eligible),
        "period": draft.benefit_period or "",
        "by_group": _by_group(reach.groups, draft.id, DIMENSIONS[entity]),
        "versus_published": versus,
        "overlaps": _overlaps(reach.overlap, draft.id),
    }


def _population_size(population: Path, entity: str) -> int:
    from matcher.population import POPULATION_FILES

    path = population / POPULATION_FILES[entity]
    if not path.is_file():
        return 0
    return int(pl.scan_parquet(path).select(pl.len()).collect().item())


def _by_group(
    groups: pl.DataFrame, policy_id: str, dimensions: tuple[str, ...]
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {d: [] for d in dimensions}
    if not groups.height:
        return out
    rows = groups.filter(
        (pl.col("policy_id") == policy_id) & pl.col("dimension").is_in(list(dimensions))
    ).sort("dimension", "group")
    for r in rows.iter_rows(named=True):
        if not (r["eligible_after"] or r["maybe_after"]):
            continue  # a group the draft does not reach at all
        out[r["dimension"]].append(
            {
                "group": str(r["group"]),
                "eligible": suppress(int(r["eligible_after"])),
                "maybe": suppress(int(r["maybe_after"])),
                "cost_per_year": _cost(r["cost_year_after"], int(r["eligible_after"])),
            }
        )
    return out


def _overlaps(overlap: pl.DataFrame, policy_id: str) -> list[dict[str, Any]]:
    rows = overlap.filter(pl.col("policy_id") == policy_id).sort(
        ["shared", "other_policy"], descending=[True, False]
    )
    return [
        {"policy_id": str(other), "both": suppress(int(shared))}
        for other, shared in rows.select("other_policy", "shared").iter_rows()
    ]


class PublishedCache:
    """The published catalog as of a date, parsed again only after a publish or retire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[date, tuple[str, Published]] = {}

    def get(self, engine: Any, as_of: date) -> tuple[str, Published]:
        """(a fingerprint of what is published, the catalog in force on ``as_of``)."""
        import sqlalchemy as sa

        from rules.store import PolicyStore

        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT policy_id, version, status, document_hash FROM policy_versions "
                    "WHERE status IN ('published', 'retired') ORDER BY policy_id, version"
                )
            ).all()
        fingerprint = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
        with self._lock:
            known = self._known.get(as_of)
        if known is not None and known[0] == fingerprint:
            return known
        catalog = PolicyStore(engine).catalog(as_of)
        versions = {
            pid: int(str(source).rsplit("@v", 1)[1]) for pid, source in catalog.sources.items()
        }
        found = (fingerprint, Published(catalog, versions))
        with self._lock:
            self._known[as_of] = found
        return found
