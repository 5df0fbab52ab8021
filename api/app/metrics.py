"""Request counters and latencies in the Prometheus text format, kept in process.

>>> m = Metrics()
>>> m.observe("GET", "/health", 200, 0.004)
>>> print(m.render().splitlines()[2])
zhida_http_requests_total{method="GET",route="/health",status="200"} 1
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any, Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BUCKETS", "Metrics", "metrics_middleware"]

BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[tuple[str, str, str], int] = defaultdict(int)
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._sum: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._count[(method, route, str(status))] += 1
            buckets = self._buckets.setdefault((method, route), [0] * (len(BUCKETS) + 1))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            buckets[-1] += 1
            self._sum[(method, route)] += seconds

    def render(self, gauges: dict[str, tuple[str, float]] | None = None) -> str:
        lines = [
            "# HELP zhida_http_requests_total HTTP requests by method, route and status.",
            "# TYPE zhida_http_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), n in sorted(self._count.items()):
                lines.append(
                    f'zhida_http_requests_total{{method="{method}",route="{route}",'
                    f'status="{status}"}} {n}'
                )
            lines += [
                "# HELP zhida_http_request_seconds HTTP request latency.",
                "# TYPE zhida_http_request_seconds histogram",
            ]
            for (method, route), buckets in sorted(self._buckets.items()):
                labels = f'method="{method}",route="{route}"'
                for bound, n in zip((*map(str, BUCKETS), "+Inf"), buckets, strict=True):
                    lines.append(f'zhida_http_request_seconds_bucket{{{labels},le="{bound}"}} {n}')
                lines.append(
                    f"zhida_http_request_seconds_sum{{{labels}}} {self._sum[(method, route)]:.6f}"
                )
                lines.append(f"zhida_http_request_seconds_count{{{labels}}} {buckets[-1]}")
        for name, (help_text, value) in sorted((gauges or {}).items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Counts every HTTP request by its route template (not its path: ids would explode)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        status = [500]
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            state: Any = scope.get("app")
            route = str(scope.get("path_template") or "unmatched")
            if state is not None:
                state.state["metrics"].observe(
                    str(scope.get("method", "?")), route, status[0], time.perf_counter() - started
                )

    return middleware
