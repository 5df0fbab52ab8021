"""Notifier: push planning, the outbox ledger, workers, channels (not built yet)."""
