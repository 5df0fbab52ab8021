from __future__ import annotations

from tests.api.app.world import World


def test_health_reports_the_database_and_its_migrations(world: World) -> None:
    response = world.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["revision"] == body["head"]


def test_metrics_count_requests_by_route_template_in_prometheus_format(world: World) -> None:
    for _ in range(3):
        world.client.get("/api/v1/subjects/P1/offers", headers=world.as_("resident"))
    world.client.get("/api/v1/subjects/P2/offers", headers=world.as_("resident"))
    text = world.client.get("/metrics").text
    route = 'route="/api/v1/subjects/{subject_id}/offers"'
    assert f'zhida_http_requests_total{{method="GET",{route},status="200"}} 3' in text
    assert f'zhida_http_requests_total{{method="GET",{route},status="404"}} 1' in text
    assert f'zhida_http_request_seconds_count{{method="GET",{route}}} 4' in text
    assert "zhida_grants_active 2" in text
    assert "P1" not in text and "P2" not in text  # ids never become labels


def test_the_openapi_schema_lists_every_json_endpoint(world: World) -> None:
    schema = world.client.get("/schema/openapi.json").json()
    paths = schema["paths"]
    json_routes = {
        route.path.replace(":str}", "}").replace(":int}", "}")
        for route in world.client.app.routes
        # /metrics is Prometheus text; the console and its static files are HTML pages, and
        # /apply/{token} (an invitation's link) sends the browser on to the console's page.
        if not route.path.startswith(("/schema", "/console", "/static", "/apply/"))
        and route.path != "/metrics"
    }
    assert json_routes <= set(paths)
    offers = paths["/api/v1/subjects/{subject_id}/offers"]["get"]
    item = offers["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    assert item["$ref"].endswith("/Offer")
