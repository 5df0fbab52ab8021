"""schemathesis against the app's own OpenAPI schema, in process (ASGI), as admin and as a resident.

Every operation of ``/schema/openapi.json`` gets generated requests, valid and invalid; the
checks: no 500, responses of a documented status match their schema and content type, and
every 4xx is the API's one error shape.  The world has a population and a match run, so the
dry-run, explanations, tags and exports do real work.  Undocumented error statuses (401, 403,
404, 422, 503 are not listed per operation in the schema) are not counted as failures.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)
from schemathesis.core.result import Ok

from tests.api.app.test_dryrun import _people
from tests.api.app.world import CATALOG, World, make_world

# Starting simulations would queue real background work for every generated body.
SKIPPED = {("POST", "/api/v1/simulations")}


@pytest.fixture
def fuzz_world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    population = tmp_path / "pop"
    population.mkdir()
    _people().write_parquet(population / "residents.parquet")
    for world in make_world(sqlite_url, tmp_path, population):
        card = tmp_path / "card"
        card.mkdir()
        shutil.copy(CATALOG / "bj-elderly-card.yaml", card)
        from rules.store import PolicyStore

        PolicyStore(world.engine).import_catalog(card, author="importer", note="seed")
        yield world


def _operations(world: World) -> list[Any]:
    raw = world.client.get("/schema/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # an operation the schema describes badly
        operations.append(result.ok())
    return operations


def _one_error_shape(response: Any) -> None:
    if 400 <= response.status_code < 500 and response.status_code != 405:
        body = response.json()
        assert set(body) == {"error"}, body
        assert {"status", "type", "message"} <= set(body["error"]), body
        assert body["error"]["status"] == response.status_code


def _check(case: Any, world: World, user: str) -> None:
    if (case.method.upper(), case.path) in SKIPPED:
        return
    # Sent through the world's own test client (its app is started once, in process).
    sent = case.as_transport_kwargs(base_url="http://testserver.local", headers=world.as_(user))
    body = {k: sent[k] for k in ("json", "data", "files") if sent.get(k) is not None}
    if isinstance(body.get("data"), bytes | str):
        body["content"] = body.pop("data")
    headers = dict(sent.get("headers") or {})
    if sent.get("cookies"):
        headers["cookie"] = "; ".join(f"{k}={v}" for k, v in sent["cookies"].items())
    response = world.client.request(
        sent["method"], sent["url"], params=sent.get("params"), headers=headers, **body
    )
    case.validate_response(
        response,
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
    _one_error_shape(response)


_fuzz = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.mark.parametrize("user", ["admin", "resident"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_is_a_500_and_responses_match_the_schema(
    fuzz_world: World, user: str, mode: GenerationMode
) -> None:
    operations = _operations(fuzz_world)
    assert len(operations) > 40  # the whole API, not an empty schema
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @_fuzz
        def run(case: Any) -> None:
            _check(case, fuzz_world, user)

        run()
