"""The outbox ledger: every planned message is a row; workers claim, attempt and record.

The life of a row::

    pending ──claim──▶ sending ──delivered──▶ delivered
       ▲                  │ transient error, attempts left: back off
       └──────────────────┤
                          │ permanent error, or the last attempt failed
                          ▼
                       failed (parked until an operator replays or cancels it)

A claim is one conditional ``UPDATE``: only a due ``pending`` row (or a ``sending`` row whose
lease ran out — its worker died) can be claimed, by one worker, and the attempt is counted in
the same statement, before anything is sent.  The queue carries only the row's id, so a
duplicate or a lost queue message changes nothing: a duplicate finds nothing to claim, a lost
one is re-enqueued by the sweeper.

The modules: :mod:`~notifier.outbox._row` (the row and the rules about it),
:mod:`~notifier.outbox._ledger` (:class:`Outbox`: writing and the sweeper's side),
:mod:`~notifier.outbox._worker_side` (claim and record) and
:mod:`~notifier.outbox._operator_side` (look, count by state, replay, cancel).
"""

from notifier.outbox._ledger import Outbox
from notifier.outbox._operator_side import HeldBack, LedgerStates
from notifier.outbox._row import IN_DOUBT, STATUSES, LedgerRow, backoff, in_doubt, naive_utc

__all__ = [
    "IN_DOUBT",
    "STATUSES",
    "HeldBack",
    "LedgerRow",
    "LedgerStates",
    "Outbox",
    "backoff",
    "in_doubt",
    "naive_utc",
]
