from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from api.app.errors import AuthenticationError, ForbiddenError, exception_handlers
from core.errors import (
    ConfigurationError,
    DatabaseError,
    NotFoundError,
    RuleError,
    ValidationError,
    ZhidaError,
)
from rules.lifecycle import LifecycleError


def _client_raising(exc: BaseException) -> TestClient:  # type: ignore[type-arg]
    @get("/boom", sync_to_thread=False)
    def boom() -> None:
        raise exc

    return TestClient(Litestar([boom], exception_handlers=exception_handlers))


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationError("age: expected an integer"), 422),
        (NotFoundError("no grant 7"), 404),
        (RuleError("bad rule"), 422),
        (LifecycleError("cannot publish a draft"), 409),
        (AuthenticationError("log in"), 401),
        (ForbiddenError("not for analysts"), 403),
        (DatabaseError("cannot reach the database"), 503),
        (ConfigurationError("ZHIDA_X is malformed"), 500),
        (ZhidaError("anything else of ours"), 400),
    ],
)
def test_each_error_of_the_tree_keeps_its_status_and_message(
    error: ZhidaError, status: int
) -> None:
    with _client_raising(error) as client:
        response = client.get("/boom")
    assert response.status_code == status
    assert response.json() == {
        "error": {"status": status, "type": type(error).__name__, "message": error.message}
    }


def test_an_unexpected_exception_is_a_500_in_the_same_shape_without_internals() -> None:
    with _client_raising(RuntimeError("secret connection string")) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "InternalError"
    assert "secret" not in response.text


def test_litestars_own_errors_use_the_same_shape(world) -> None:
    missing = world.client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"status", "type", "message"}
    bad_body = world.client.post(
        "/api/v1/policies/validate", headers=world.as_("officer"), json={"doc": "x"}
    )
    assert bad_body.status_code == 400
    assert "document" in bad_body.json()["error"]["message"]
    bad_query = world.client.get("/api/v1/subjects/P1/inbox?limit=0", headers=world.as_("resident"))
    assert bad_query.status_code == 400
    assert "limit" in bad_query.json()["error"]["message"]
