"""The sweeper: the ledger, not the queue, is the truth — re-enqueue what it says is due.

It runs periodically inside every worker process (a daemon thread).  Each pass:

1. parks rows whose worker died during their last allowed attempt;
2. hands to the broker every row that is due and was never enqueued or was enqueued longer
   than ``stale`` seconds ago (the queue message was lost: Redis flushed or restarted, a worker
   killed before it acknowledged), and every row whose claim's lease ran out;
3. that includes rows deferred by quiet hours whose not-before time has come;
4. polls the gateways' delivery reports (SMS: reached the handset or not) into receipts.

Re-enqueueing a row that is in fact still queued is harmless: the second message finds nothing
to claim.  A pass that cannot reach the database or Redis is retried with back-off
(:mod:`core.retry`) and, if they stay away, the next pass tries again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import DeliveryError, ZhidaError
from core.retry import retrying
from notifier.reports import ReportsRecorded, poll_reports
from notifier.runtime import DeliveryRuntime

__all__ = ["SweepResult", "Sweeper", "sweep_once"]

log = logging.getLogger("zhida.sweeper")


@dataclass(frozen=True)
class SweepResult:
    enqueued: int
    parked: int
    reports: int = 0  # delivery reports recorded


def sweep_once(
    rt: DeliveryRuntime, send: Callable[[Sequence[int]], object], *, stale: float, limit: int = 5000
) -> SweepResult:
    """One pass; ``send`` hands ids to the broker (already marked enqueued)."""
    now = rt.clock.now()
    parked = rt.outbox.park_lost(now=now)
    ids = rt.outbox.due(now=now, stale=stale, limit=limit)
    if ids:
        try:
            send(ids)
        except Exception:
            rt.outbox.forget_enqueued(ids)  # Redis is down: hand them over on the next try
            raise
    try:
        got = poll_reports(rt.outbox.engine, rt.channels, now=now)
    except DeliveryError as exc:  # the gateway's reports are down: ask again next pass
        log.warning("delivery reports: %s", exc)
        got = ReportsRecorded()
    return SweepResult(len(ids), parked, got.delivered + got.failed)


class Sweeper:
    """Calls :func:`sweep_once` every ``interval`` seconds on a daemon thread until stopped."""

    def __init__(
        self,
        rt: Callable[[], DeliveryRuntime],
        send: Callable[[Sequence[int]], object],
        *,
        interval: float = 5.0,
        stale: float = 120.0,
    ) -> None:
        self._rt, self._send = rt, send
        self.interval, self.stale = interval, stale
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zhida-sweeper", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                result = retrying(
                    lambda: sweep_once(self._rt(), self._send, stale=self.stale),
                    what="sweeping the outbox", give_up_after=self.interval,
                )  # fmt: skip
                if result.enqueued or result.parked or result.reports:
                    log.info(
                        "sweeper: %d re-enqueued, %d parked, %d delivery reports",
                        result.enqueued, result.parked, result.reports,
                    )  # fmt: skip
            except ZhidaError as exc:  # the database or Redis stayed away: one line
                log.error("%s; trying again in %.0f s", exc, self.interval)
            except Exception:  # a bug: logged with its traceback, and the next pass comes
                log.exception("sweeper pass failed; retrying in %.0fs", self.interval)
