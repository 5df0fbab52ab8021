"""One delivery attempt: claim a ledger row, render it, send it through its channel, record it.

:func:`deliver_one` is the whole attempt and can be called without a broker (tests, the bench
baseline); :func:`deliver_many` does many, the inbox's rows in one transaction.

In doubt — a worker died during an attempt, or the far side's answer was lost (timed out, the
connection broke after the message went out) — nobody knows whether the far side took the
message.  The next attempt waits until the far side has had time to finish what it was doing
(the channel's ``send_budget``: a lookup made while the first request is still being processed
would say "not taken" and the resend would be a double), then asks a channel that can say
(:class:`Lookup`, :class:`LookupAt`): taken is recorded as delivered, not taken is sent.  A
channel with a status query that does not answer is asked again later (the row stays in
doubt); one that cannot be asked at all follows its ``in_doubt`` policy (``"resend"`` or
``"park"``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Protocol, runtime_checkable

from core.errors import ZhidaError
from notifier.channels.base import (
    Channel,
    InDoubtDeliveryError,
    OutboundMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifier.outbox import IN_DOUBT, LedgerRow, Outbox, in_doubt
from notifier.runtime import DeliveryRuntime, runtime

# Retries sooner than this go back to the broker with a delay; later ones wait for the sweeper
# (a long broker delay would be lost with Redis; the ledger's next_attempt_at is not).
_MAX_BROKER_DELAY = 60.0
log = logging.getLogger("zhida.delivery")


@runtime_checkable
class Lookup(Protocol):
    """A channel that can tell whether it already took a message (by idempotency key).

    None: it cannot say.  A channel with a ``status_url`` that cannot say was asked and did
    not answer, so the row stays in doubt and is asked again later.
    """

    def lookup(self, idempotency_key: str) -> bool | None: ...


@runtime_checkable
class LookupAt(Protocol):
    """A channel whose far side is per message (a webhook's URL) and can be asked there.

    None: the far side cannot say; raises :class:`InDoubtDeliveryError` when it could be asked
    but did not answer.
    """

    def lookup_at(self, address: str | None, idempotency_key: str) -> bool | None: ...


def deliver_one(row_id: int, rt: DeliveryRuntime | None = None) -> str:
    """One attempt at row ``row_id``; returns what happened (for logs and tests).

    ``not-claimed`` (not due, already taken or done), ``delivered``, ``reconciled`` (an attempt
    lost with its worker had reached the far side), ``retry``, ``failed``.
    """
    rt = rt or runtime()
    row = rt.outbox.claim(row_id, now=rt.clock.now(), lease=rt.lease)
    if row is None:
        return "not-claimed"
    return _attempt(rt, row)


def _attempt(rt: DeliveryRuntime, row: LedgerRow) -> str:
    """The attempt ``row`` was claimed for: look up if in doubt, render, send, record."""
    row_id = row.id
    channel = rt.channels.get(row.channel)
    try:
        if channel is None:
            raise PermanentDeliveryError(
                f"channel {row.channel!r} is not configured in this worker; configure it "
                "(see README, Settings) and replay the row"
            )
        if in_doubt(row):
            taken = _look_up(channel, row)
            if taken:
                rt.outbox.delivered(row, provider_id="reconciled", now=rt.clock.now())
                return "reconciled"
            if taken is None and getattr(channel, "in_doubt", "resend") == "park":
                hint = getattr(channel, "doubt_hint", "")
                raise PermanentDeliveryError(
                    f"in doubt: attempt {row.attempts - 1} may have reached {row.channel} "
                    f"({row.last_error}) and {row.channel} cannot say whether it went out"
                    f"{'; ' + hint if hint else ''}"
                    f" — parked rather than risk sending it twice; `zhida deliveries replay "
                    f"{row.id}` sends it again (same Message-ID)"
                )
        try:
            message = rt.render(row)
        except ZhidaError as exc:
            raise PermanentDeliveryError(f"cannot render the message: {exc}") from exc
        if rt.limiter is not None:
            rt.limiter.acquire(row.channel, timeout=rt.rate_wait)
        if _same_database(channel, rt.outbox):
            # The inbox lives in the ledger's database: deliver and record in one commit,
            # exactly once by construction.
            try:
                with rt.outbox.engine.begin() as conn:
                    now = rt.clock.now()
                    write = channel.write  # type: ignore[attr-defined]
                    result = write(conn, message, now=now, name=channel.name)
                    if not rt.outbox.delivered(
                        row, provider_id=result.provider_id, now=now, conn=conn
                    ):
                        raise _ClaimLost  # another attempt owns the row now: roll back
            except _ClaimLost:
                return "not-claimed"
            return "delivered"
        # The lease must outlast the send: renewed now (rendering or the rate limit may have
        # used some of it), for at least the channel's worst case, so no other worker can
        # take the row over while this request may still reach the far side.
        budget = max(rt.lease, float(getattr(channel, "send_budget", 0.0)))
        if not rt.outbox.renew(row, now=rt.clock.now(), lease=budget):
            return "not-claimed"  # the lease ran out and another attempt owns the row
        result = channel.send(message)
    except PermanentDeliveryError as exc:
        rt.outbox.attempt_failed(row, str(exc), permanent=True, now=rt.clock.now(), base=rt.backoff)
        log.warning("outbox %s parked: %s", row_id, exc)
        return "failed"
    except InDoubtDeliveryError as exc:  # the next attempt looks up before sending again
        settle = float(getattr(channel, "send_budget", 0.0))
        return _retry(rt, row, f"{IN_DOUBT}{exc}", at_least=settle)
    except TransientDeliveryError as exc:
        return _retry(rt, row, str(exc))
    except Exception as exc:  # a bug or an unexpected library error: retry, never stall
        return _retry(rt, row, f"unexpected {type(exc).__name__}: {exc}")
    rt.outbox.delivered(row, provider_id=result.provider_id, now=rt.clock.now())
    return "delivered"


def deliver_many(row_ids: Iterable[int], rt: DeliveryRuntime | None = None) -> Counter[str]:
    """Attempts at many rows; how many ended each way (see :func:`deliver_one`).

    Rows for a channel that lives in the ledger's database (the inbox) go together: one
    statement claims them all (each attempt counted), one transaction writes the messages, their
    receipts and their outcomes — one commit for the batch instead of two per message, with the
    same guarantees.  Every other row is claimed just before its own send, as in
    :func:`deliver_one`, so a claim's lease is never spent waiting on other rows' sends.
    """
    rt = rt or runtime()
    ids = sorted(set(row_ids))
    together = {n for n, ch in rt.channels.items() if _same_database(ch, rt.outbox)}
    outcomes: Counter[str] = Counter()
    rows = []
    if together and len(ids) > 1:
        rows = rt.outbox.claim_many(ids, now=rt.clock.now(), lease=rt.lease, channels=together)
        outcomes.update(_deliver_together(rt, rows))
    taken = {r.id for r in rows}
    for row_id in ids:
        if row_id not in taken:  # other channels, rows in doubt, or not due: one by one
            outcomes[deliver_one(row_id, rt)] += 1
    return outcomes


def _deliver_together(rt: DeliveryRuntime, rows: Sequence[LedgerRow]) -> Counter[str]:
    """Deliver claimed rows of same-database channels in one transaction per channel."""
    outcomes: Counter[str] = Counter()
    by_channel: dict[str, list[tuple[LedgerRow, OutboundMessage]]] = {}
    for row in rows:
        try:
            message = rt.render(row)
            if rt.limiter is not None:
                rt.limiter.acquire(row.channel, timeout=rt.rate_wait)
        except ZhidaError as exc:
            if isinstance(exc, TransientDeliveryError):
                outcomes[_retry(rt, row, str(exc))] += 1
            else:
                outcomes[_fail(rt, row, f"cannot render the message: {exc}")] += 1
            continue
        except Exception as exc:  # a bug or an unexpected library error: retry, never stall
            outcomes[_retry(rt, row, f"unexpected {type(exc).__name__}: {exc}")] += 1
            continue
        by_channel.setdefault(row.channel, []).append((row, message))
    for name, pairs in by_channel.items():
        channel = rt.channels[name]
        try:
            with rt.outbox.engine.begin() as conn:
                now = rt.clock.now()
                write_many = channel.write_many  # type: ignore[attr-defined]
                results = write_many(conn, [m for _, m in pairs], now=now, name=name)
                recorded = rt.outbox.delivered_many(
                    conn,
                    [r for r, _ in pairs],
                    {r.id: results[m.idempotency_key].provider_id for r, m in pairs},
                    now=now,
                )
                if len(recorded) < len(pairs):
                    raise _ClaimLost  # a lease ran out and the row was retaken: roll back
            outcomes["delivered"] += len(pairs)
        except _ClaimLost:
            # Rare: go one by one, so only the rows still ours are delivered.
            for row, _ in pairs:
                outcomes[_attempt(rt, row)] += 1
        except Exception as exc:  # the database failed: each row backs off (or is swept)
            for row, _ in pairs:
                outcomes[_retry(rt, row, f"{type(exc).__name__}: {exc}"[:500])] += 1
    return outcomes


def _look_up(channel: Channel, row: LedgerRow) -> bool | None:
    """Whether the far side took ``row``'s message; None when it cannot say.

    Raises :class:`InDoubtDeliveryError` when it can be asked but did not answer: neither
    resend nor park, ask again later.
    """
    if isinstance(channel, LookupAt):
        return channel.lookup_at(row.address, row.idempotency_key)
    if not isinstance(channel, Lookup):
        return None
    taken = channel.lookup(row.idempotency_key)
    if taken is None and getattr(channel, "status_url", None):
        raise InDoubtDeliveryError(
            f"{row.channel}'s status query did not answer whether it took the message; "
            "asking again later"
        )
    return taken


def _fail(rt: DeliveryRuntime, row: LedgerRow, error: str) -> str:
    rt.outbox.attempt_failed(row, error, permanent=True, now=rt.clock.now(), base=rt.backoff)
    log.warning("outbox %s parked: %s", row.id, error)
    return "failed"


class _ClaimLost(Exception):  # noqa: N818 -- a signal to roll back, never seen outside
    pass


def _same_database(channel: Channel, outbox: Outbox) -> bool:
    engine = getattr(channel, "engine", None)
    return (
        callable(getattr(channel, "write", None))
        and callable(getattr(channel, "write_many", None))
        and engine is not None
        and (engine is outbox.engine or str(engine.url) == str(outbox.engine.url))
    )


def _retry(rt: DeliveryRuntime, row: LedgerRow, error: str, *, at_least: float = 0.0) -> str:
    now = rt.clock.now()
    retry_at = rt.outbox.attempt_failed(
        row, error, permanent=False, now=now, base=rt.backoff, at_least=at_least
    )
    if retry_at is None:
        log.warning("outbox %s parked after %s attempts: %s", row.id, row.attempts, error)
        return "failed"
    delay = (retry_at - now.astimezone(UTC).replace(tzinfo=None)).total_seconds()
    if rt.send_retries is not None and delay <= _MAX_BROKER_DELAY:
        rt.send_retries(row.id, delay)
    return "retry"
