"""Every endpoint x every role: allowed or refused, as the table below says.

Allowed means the request got past authentication, the role guard and the subject check (its
answer may still be a 4xx about the request itself, e.g. 409 for a lifecycle step out of
order).  Refused means 401, 403, or the 404 a subject check gives for someone else's data.
The table must name every route of the app: a new endpoint without a row fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.routes import HTTPRoute

from api.app.auth import ROLES
from notifier.grants import GrantStore
from tests.api.app.world import AT, CATALOG, USERS, World

DOC = (CATALOG / "bj-elderly-allowance.yaml").read_text(encoding="utf-8")
EVERYONE = set(ROLES)
STAFF_READERS = {"officer", "reviewer", "analyst", "admin"}
OWNER = {"resident"}  # the world's resident owns subject P1
OWNER_OR_ADMIN = {"resident", "admin"}
LIFE = "/api/v1/policies/bj-elderly-allowance/versions/1"

# (method, route template, concrete path, JSON body, roles allowed)
MATRIX: list[tuple[str, str, str, Any, set[str]]] = [
    ("GET", "/api/v1/me", "/api/v1/me", None, EVERYONE),
    ("GET", "/api/v1/parameters", "/api/v1/parameters", None, EVERYONE),
    ("GET", "/api/v1/audit", "/api/v1/audit", None, {"admin"}),
    ("GET", "/api/v1/subjects/{subject_id}/offers", "/api/v1/subjects/P1/offers", None,
     OWNER_OR_ADMIN),
    ("GET", "/api/v1/subjects/{subject_id}/inbox", "/api/v1/subjects/P1/inbox", None,
     OWNER_OR_ADMIN),
    ("POST", "/api/v1/subjects/{subject_id}/inbox/{message_id}/read",
     "/api/v1/subjects/P1/inbox/{msg}/read", None, OWNER),
    ("GET", "/api/v1/subjects/{subject_id}/grants", "/api/v1/subjects/P1/grants", None,
     OWNER_OR_ADMIN),
    ("POST", "/api/v1/subjects/{subject_id}/grants/{grant_id}/objection",
     "/api/v1/subjects/P1/grants/{grant}/objection", {"text": "异议"}, OWNER),
    ("GET", "/api/v1/subjects/{subject_id}/profile", "/api/v1/subjects/P1/profile", None,
     OWNER_OR_ADMIN),
    ("GET", "/api/v1/subjects/{subject_id}/offers/{policy_id}/explain",
     "/api/v1/subjects/P1/offers/bj-elderly-allowance/explain", None, OWNER_OR_ADMIN),
    ("GET", "/api/v1/subjects/{subject_id}/preferences", "/api/v1/subjects/P1/preferences", None,
     OWNER_OR_ADMIN),
    ("PUT", "/api/v1/subjects/{subject_id}/preferences", "/api/v1/subjects/P1/preferences",
     {"opt_out_channels": ["sms"]}, OWNER),
    ("POST", "/api/v1/subjects/{subject_id}/feedback", "/api/v1/subjects/P1/feedback",
     {"policy_id": "bj-elderly-allowance", "rating": "好"}, OWNER),
    ("GET", "/api/v1/deliveries/summary", "/api/v1/deliveries/summary", None,
     {"operator", "admin"}),
    ("GET", "/api/v1/deliveries/failed", "/api/v1/deliveries/failed", None, {"operator", "admin"}),
    ("POST", "/api/v1/deliveries/{row_id}/replay", "/api/v1/deliveries/999/replay", None,
     {"operator", "admin"}),
    ("GET", "/api/v1/deliveries/queues", "/api/v1/deliveries/queues", None,
     {"operator", "admin"}),
    ("GET", "/api/v1/reach", "/api/v1/reach", None, STAFF_READERS),
    ("GET", "/api/v1/objections", "/api/v1/objections", None, {"officer", "admin"}),
    ("POST", "/api/v1/objections/{objection_id}/answer", "/api/v1/objections/{objection}/answer",
     {"text": "已核实"}, {"officer", "admin"}),  # the officer of the grant's department
    ("GET", "/api/v1/policies", "/api/v1/policies", None, EVERYONE),
    ("GET", "/api/v1/policies/{policy_id}", "/api/v1/policies/bj-elderly-allowance", None,
     EVERYONE),
    ("GET", "/api/v1/policies/{policy_id}/versions",
     "/api/v1/policies/bj-elderly-allowance/versions", None, STAFF_READERS),
    ("GET", "/api/v1/policies/{policy_id}/versions/{version}/diff", f"{LIFE}/diff", None,
     STAFF_READERS),
    ("POST", "/api/v1/policies/validate", "/api/v1/policies/validate", {"document": DOC},
     {"officer", "reviewer", "admin"}),
    ("POST", "/api/v1/policies/drafts", "/api/v1/policies/drafts", {"document": DOC},
     {"officer", "admin"}),
    ("GET", "/api/v1/policies/form/choices", "/api/v1/policies/form/choices", None,
     {"officer", "reviewer", "admin"}),
    ("POST", "/api/v1/policies/form/read", "/api/v1/policies/form/read", {"document": DOC},
     {"officer", "reviewer", "admin"}),
    ("POST", "/api/v1/policies/form/write", "/api/v1/policies/form/write", {"form": {}},
     {"officer", "reviewer", "admin"}),
    ("PUT", "/api/v1/profiles/{entity}/{subject_id}", "/api/v1/profiles/resident/P1",
     {"gender": "female"}, {"admin"}),
    ("POST", "/api/v1/events", "/api/v1/events",
     {"subject_id": "P1", "subject_type": "resident", "item_code": "birth_registration",
      "occurred_at": "2026-03-01T09:00:00"}, {"admin"}),
    ("POST", "/api/v1/events/batch", "/api/v1/events/batch",
     [{"subject_id": "P1", "subject_type": "resident", "item_code": "birth_registration",
       "occurred_at": "2026-03-02T09:00:00"}], {"admin"}),
    ("POST", "/api/v1/employments", "/api/v1/employments",
     {"person_id": "P1", "enterprise_id": "911100000000000001", "hired_on": "2026-01-01"},
     {"admin"}),
    ("GET", "/api/v1/subjects/{subject_id}/changes", "/api/v1/subjects/P1/changes", None,
     OWNER_OR_ADMIN),
    ("GET", "/api/v1/tags", "/api/v1/tags", None, EVERYONE),
    ("GET", "/api/v1/subjects/{subject_id}/tags", "/api/v1/subjects/P1/tags", None,
     OWNER_OR_ADMIN),
    ("POST", "/api/v1/simulations", "/api/v1/simulations",
     {"kind": "reach", "retire": ["bj-elderly-allowance"]}, {"analyst", "admin"}),
    # Which simulation each reads is access.may_read_simulation's (their own, an admin any).
    ("GET", "/api/v1/simulations", "/api/v1/simulations", None, {"analyst", "admin"}),
    ("GET", "/api/v1/simulations/{sim_id}", "/api/v1/simulations/1", None, {"analyst", "admin"}),
    ("GET", "/api/v1/simulations/{sim_id}/tables/{name}",
     "/api/v1/simulations/1/tables/policies", None, {"analyst", "admin"}),
    ("GET", "/api/v1/exports/reach-by-group.csv", "/api/v1/exports/reach-by-group.csv", None,
     STAFF_READERS),
    ("POST", "/api/v1/policies/dry-run", "/api/v1/policies/dry-run", {"document": DOC},
     STAFF_READERS),
    ("GET", "/api/v1/privacy/budgets", "/api/v1/privacy/budgets", None, {"admin"}),
    ("GET", "/api/v1/privacy/budgets/{username}", "/api/v1/privacy/budgets/admin", None,
     {"admin"}),  # an admin sees anyone's; staff only their own (test_privacy.py)
    ("POST", "/api/v1/privacy/budgets/{username}/reset", "/api/v1/privacy/budgets/analyst/reset",
     {"reason": "a new analysis project"}, {"admin"}),
    ("POST", "/api/v1/policies/test", "/api/v1/policies/test",
     {"document": DOC, "profile": {"age": 85}}, {"officer", "reviewer", "admin"}),
    ("POST", "/api/v1/policies/{policy_id}/versions/{version}/submit", f"{LIFE}/submit", None,
     {"officer", "admin"}),
    ("POST", "/api/v1/policies/{policy_id}/versions/{version}/approve", f"{LIFE}/approve", None,
     {"reviewer", "admin"}),
    ("POST", "/api/v1/policies/{policy_id}/versions/{version}/reject", f"{LIFE}/reject", None,
     {"reviewer", "admin"}),
    ("POST", "/api/v1/policies/{policy_id}/versions/{version}/retire", f"{LIFE}/retire", None,
     {"reviewer", "admin"}),
    ("GET", "/api/v1/policies/{policy_id}/versions/{version}/relations", f"{LIFE}/relations",
     None, STAFF_READERS),
    ("GET", "/api/v1/policies/{policy_id}/versions/{version}/consequences",
     f"{LIFE}/consequences", None, {"reviewer", "admin"}),
]  # fmt: skip
# Open to anyone, logged in or not.
PUBLIC = {
    ("GET", "/health"), ("GET", "/metrics"), ("GET", "/api/v1/roles"),
    ("POST", "/api/v1/login"), ("POST", "/api/v1/logout"), ("GET", "/static/{file_path}"),
    # Console pages: a stranger is sent to the login page; what each role sees there is
    # in test_console.py (a resident's page shows only their own subject's data).
    ("GET", "/console"), ("GET", "/console/login"), ("POST", "/console/login"),
    ("GET", "/console/why/{policy_id}"),
    # The algorithm published (算法公示) is for everyone: test_console_algorithm.py.
    ("GET", "/console/algorithm"),
    # The parameter library and a policy's parameters are public: test_console_parameters.py.
    ("GET", "/console/parameters"), ("GET", "/console/policies/{policy_id}/parameters"),
    ("POST", "/console/logout"), ("POST", "/console/preferences"),
    # The officer console (test_console_officer.py: who gets the pages, who a 403).
    ("GET", "/console/policies"), ("GET", "/console/policies/new"),
    ("GET", "/console/policies/{policy_id}"),
    # The review queue and a version's review (test_console_review.py).
    ("GET", "/console/review"), ("GET", "/console/review/{policy_id}/{version}"),
    # The message centre's forms, the analyst's and the operator's pages
    # (test_console_subject.py, test_console_analyst.py, test_console_operator.py: each role's
    # access, a 403 page for the wrong role, a stranger sent to log in).
    ("POST", "/console/grants/{grant_id}/objection"), ("POST", "/console/feedback"),
    ("POST", "/console/inbox/{message_id}/read"),
    # The pre-filled application and the officers' objections (test_console_application.py,
    # test_console_objections.py: the applicant, the department's officer, a 404 or a 403).
    ("GET", "/apply/{token}"), ("GET", "/console/apply/{token}"),
    ("POST", "/console/apply/{token}"), ("GET", "/console/objections"),
    ("POST", "/console/objections/{objection_id}/answer"),
    ("GET", "/console/analyst"), ("POST", "/console/analyst"),
    ("GET", "/console/analyst/{sim_id}/reach.csv"), ("POST", "/console/analyst/fairness"),
    # (test_console_analyst_timeline.py: the same for the timeline's pages and status)
    ("POST", "/console/analyst/timeline"), ("GET", "/console/analyst/timeline/{sim_id}"),
    ("GET", "/console/analyst/timeline/{sim_id}/status"),
    ("GET", "/console/analyst/timeline/{sim_id}/csv/{name}"),
    ("GET", "/console/operator"), ("POST", "/console/operator/replay/{row_id}"),
    ("POST", "/console/operator/release/{plan_id}"),
    ("POST", "/console/operator/discard/{plan_id}"),
}  # fmt: skip
# One user per role (the matrix's rows); officer2 is the officer of another department.
ROLE_USERS = {role: name for name, (role, _, _) in USERS.items() if name[-1] != "2"}


def _refused(status: int, body: dict[str, Any]) -> bool:
    if status in (401, 403):
        return True
    return status == 404 and "visible to" in body.get("error", {}).get("message", "")


def _call(world: World, method: str, path: str, body: Any, user: str | None) -> Any:
    if "{objection}" in path:  # a fresh objection of P1's, routed to 北京市民政局
        store = GrantStore(world.engine)
        objection = store.object(world.grants["P1"], "金额不对", kind="objection", now=AT).id
        path = path.replace("{objection}", str(objection))
    path = path.format(msg=world.messages["P1"], grant=world.grants["P1"])
    headers = world.as_(user) if user else {}
    return world.client.request(method, path, headers=headers, json=body)


def test_the_matrix_names_every_route_of_the_app(world: World) -> None:
    app = world.client.app
    routes = {
        (method, re.sub(r":\w+}", "}", route.path))
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for method in route.methods - {"OPTIONS", "HEAD"}
        if not route.path.startswith("/schema")
    }
    assert routes == {(m, t) for m, t, *_ in MATRIX} | PUBLIC


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_allowed_exactly_the_endpoints_of_its_row(world: World, role: str) -> None:
    outcome = {}
    for method, template, path, body, allowed in MATRIX:
        response = _call(world, method, path, body, ROLE_USERS[role])
        assert response.status_code != 500, (template, response.text)
        refused = _refused(response.status_code, response.json())
        outcome[(method, template)] = ("allowed" if not refused else "refused",
                                       "allowed" if role in allowed else "refused")  # fmt: skip
    wrong = {k: v for k, v in outcome.items() if v[0] != v[1]}
    assert wrong == {}


def test_without_credentials_every_non_public_endpoint_is_a_401(world: World) -> None:
    for method, template, path, body, _ in MATRIX:
        response = _call(world, method, path, body, None)
        assert response.status_code == 401, template
        assert response.json()["error"]["type"] == "AuthenticationError"
