"""``zhida serve``: the web API and the console on uvicorn, after applying the migrations.

JSON under ``/api/v1`` (OpenAPI at ``/schema``), ``/health`` and ``/metrics``, and the console
for each role (officer, reviewer, analyst, resident, enterprise, operator, admin); with
``--population`` the profiles, explanations, dry-runs and simulations read that directory.
"""

from __future__ import annotations

import gc
from pathlib import Path

import click

__all__ = ["register"]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--population", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
    help="Population directory: profiles, explanations, tags, dry-runs, simulations, exports.",
)  # fmt: skip
@click.option(
    "--insecure-cookies", is_flag=True,
    help="Session cookies without the Secure flag: only for plain HTTP off localhost in tests.",
)  # fmt: skip
def serve_cmd(host: str, port: int, population: Path | None, insecure_cookies: bool) -> None:
    """Serve the API: JSON under /api/v1, OpenAPI at /schema, /health and /metrics."""
    import uvicorn

    from api.app.app import create_app
    from core.db import get_engine, upgrade
    from profiles.store import add_missing_columns

    engine = get_engine()
    upgrade(engine)
    add_missing_columns(engine)  # a schema extension's fields (the migrations make core's)
    app = create_app(engine, population=population, secure_cookies=not insecure_cookies)
    # What start-up built lives as long as the server: kept out of the collector's full passes,
    # the first of which otherwise stalls one request by ~80 ms (the ingestion bench's p99).
    gc.collect()
    gc.freeze()
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"zhida serving on http://{shown}:{port}  (OpenAPI: http://{shown}:{port}/schema)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(group: click.Group) -> None:
    group.add_command(serve_cmd)
