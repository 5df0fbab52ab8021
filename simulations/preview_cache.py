"""Dry-run results kept per input, and one computation per input at a time.

At a million residents one dry-run takes seconds, so results are kept per
(document, population snapshot, published catalog, as-of date) in a small LRU, and concurrent
requests for the same key share one computation (:class:`SingleFlight`): the first caller
computes, the others wait for its result.  Distinct computations run one at a time (each holds a
population's worth of columns); polars already uses every core for one.

The published catalog is parsed again only after a publish or retire
(:meth:`rules.store.PolicyStore.published_fingerprint`), and the population's content hash is
recomputed only when a file's size or time changes.

The figures kept are the noisy ones (:mod:`simulations.preview`): the noise is drawn once per
key, and :func:`release_key` names the key in the privacy budget's kept releases
(:mod:`simulations.budget`), so the same document on the same snapshot, catalog, date and
privacy parameters is the same answer, also after a restart.

>>> flight = SingleFlight(maxsize=2)
>>> flight.get("a", lambda: 1), flight.get("a", lambda: 2)
((1, False), (1, True))
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from datetime import date
from pathlib import Path
from typing import Any, Generic, TypeVar

from rules.loader import load_policy_text
from rules.store import PolicyStore
from simulations.preview import Published, compute_dry_run, document_hash
from simulations.privacy import DEFAULT, PrivacyParameters, refuse_identifying

__all__ = ["DryRunCache", "PublishedCache", "SingleFlight", "release_key"]


def release_key(key: Hashable) -> str:
    """The name of a dry-run's cache key among the kept releases.

    >>> release_key(("a", "b"))[:19]
    'dry_run:0eee9b877a3'
    """
    import hashlib

    return "dry_run:" + hashlib.sha256(repr(key).encode("utf-8")).hexdigest()


T = TypeVar("T")


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


class PublishedCache:
    """The published catalog as of a date, parsed again only after a publish or retire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[date, tuple[str, Published]] = {}

    def get(self, policies: PolicyStore, as_of: date) -> tuple[str, Published]:
        """(a fingerprint of what is published, the catalog in force on ``as_of``)."""
        fingerprint = policies.published_fingerprint()
        with self._lock:
            known = self._known.get(as_of)
        if known is not None and known[0] == fingerprint:
            return known
        catalog = policies.catalog(as_of)
        versions = {
            pid: int(str(source).rsplit("@v", 1)[1]) for pid, source in catalog.sources.items()
        }
        found = (fingerprint, Published(catalog, versions))
        with self._lock:
            self._known[as_of] = found
        return found


class DryRunCache:
    """What a server keeps between dry-runs: results, the published catalog, and the
    population's snapshot id."""

    def __init__(self, maxsize: int = 64) -> None:
        self.results: SingleFlight[dict[str, Any]] = SingleFlight(maxsize)
        self.published = PublishedCache()
        self._snapshots: dict[Path, tuple[tuple[Any, ...], str]] = {}
        self._lock = threading.Lock()

    def snapshot(self, population: Path) -> str:
        """The population's content hash, recomputed only when a file's size or time changes."""
        from matcher.runs import population_snapshot

        stamp = tuple(
            (p.name, s.st_size, s.st_mtime_ns)
            for p in sorted(population.glob("*.parquet"))
            for s in (p.stat(),)
        )
        with self._lock:
            known = self._snapshots.get(population)
        if known is not None and known[0] == stamp:
            return known[1]
        digest = population_snapshot(population)
        with self._lock:
            self._snapshots[population] = (stamp, digest)
        return digest

    def prepare(
        self,
        document: str,
        *,
        policies: PolicyStore,
        population: Path,
        as_of: date,
        params: PrivacyParameters = DEFAULT,
        parameters: tuple[str, ...] = (),
    ) -> tuple[Hashable, Callable[[], dict[str, Any]]]:
        """The cache key of ``document`` and the computation of its dry-run; a document that
        does not load raises its :class:`~rules.loader.CatalogError` now, and a rule reading
        an identifier its :class:`~simulations.privacy.IdentifyingRuleError`, not after
        waiting for a computation slot; so does a parameter change that cannot be read
        (``parameters``, e.g. ``dibao_standard=1500``: part of the key)."""
        from profiles.schema import load_schema
        from rules.parameters import active

        active().with_overrides(parameters, on=as_of)  # refused now, not in the queue

        fingerprint, published = self.published.get(policies, as_of)
        key: tuple[Any, ...] = (
            document_hash(document),
            self.snapshot(population),
            fingerprint,
            as_of,
            params,
        )
        if parameters:  # without any, the key of a plain dry-run as before
            key = (*key, parameters)
        if key not in self.results:
            draft = load_policy_text(document, Path("<draft>"))
            refuse_identifying([draft], load_schema(), answer="a dry-run")

        def compute() -> dict[str, Any]:
            draft = load_policy_text(document, Path("<draft>"))
            return compute_dry_run(
                draft, published, population, as_of=as_of, params=params, parameters=parameters
            )

        return key, compute
