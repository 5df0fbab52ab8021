"""Slow down password guessing: after a few failed logins a username is locked for a while.

Kept in process (per server process): enough against guessing through one server; a farm of
servers would keep the counts in Redis.

>>> t = LoginThrottle(attempts=2, window=60.0)
>>> t.failed("li", now=0.0); t.failed("li", now=1.0)
>>> t.locked_for("li", now=2.0), t.locked_for("li", now=62.0), t.locked_for("wang", now=2.0)
(58.0, 0.0, 0.0)
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque

from core.errors import ZhidaError

__all__ = ["LoginThrottle", "TooManyAttemptsError"]


class TooManyAttemptsError(ZhidaError, PermissionError):
    """Too many failed logins for a username in a short time."""

    http_status = 429


class LoginThrottle:
    def __init__(self, *, attempts: int = 5, window: float = 900.0) -> None:
        self.attempts = attempts
        self.window = window
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, username: str, now: float) -> deque[float]:
        failures = self._failures[username]
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def locked_for(self, username: str, *, now: float) -> float:
        """Seconds until ``username`` may try again (0: now)."""
        with self._lock:
            failures = self._recent(username, now)
            if len(failures) < self.attempts:
                return 0.0
            return failures[-self.attempts] + self.window - now

    def check(self, username: str, *, now: float) -> None:
        wait = self.locked_for(username, now=now)
        if wait > 0:
            raise TooManyAttemptsError(
                f"too many failed logins for {username!r}; try again in {int(wait) + 1} s "
                "or ask an admin to reset the password"
            )

    def failed(self, username: str, *, now: float) -> None:
        with self._lock:
            self._recent(username, now).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)
