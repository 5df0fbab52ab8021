"""The litestar application: routes, one error shape, OpenAPI at /schema, metrics.

>>> app = create_app(get_engine("sqlite://"), data_dir=Path("/tmp/zhida-doctest"))
>>> sorted(r.path for r in app.routes if r.path.startswith("/api/v1/policies"))[:2]
['/api/v1/policies', '/api/v1/policies/drafts']
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from litestar import Litestar
from litestar.datastructures import State
from litestar.logging.config import LoggingConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from sqlalchemy.engine import Engine

from api.app.audit import AuditLog
from api.app.checkpoints import Checkpoints
from api.app.csrf import csrf_middleware
from api.app.errors import exception_handlers
from api.app.metrics import Metrics, metrics_middleware
from api.app.openapi_errors import document_errors
from api.app.routes import ROUTES
from api.app.services import Services
from api.app.timestamps import UtcResponse
from core.db import get_engine

__all__ = ["create_app"]

_HERE = Path(__file__).parent


def create_app(
    engine: Engine | None = None, *, data_dir: Path | None = None, population: Path | None = None,
    secure_cookies: bool = True, hasher: PasswordHasher | None = None,
) -> Litestar:  # fmt: skip
    """The app over ``engine`` (default: the configured database, migrated by the caller)."""
    from core.settings import get_settings

    settings = get_settings()
    engine = engine or get_engine()
    data_dir = data_dir or settings.data_dir
    svc = Services.build(
        engine, data_dir, population=population, secure_cookies=secure_cookies, hasher=hasher
    )
    # Every entry the app writes is checkpointed outside the database (api.app.checkpoints).
    svc = replace(svc, audit=AuditLog(engine, Checkpoints.configured(data_dir)))
    app = Litestar(
        route_handlers=[
            *ROUTES,
            create_static_files_router(path="/static", directories=[_HERE / "static"]),
        ],
        exception_handlers=exception_handlers,
        response_class=UtcResponse,
        # Litestar's own logger only: an app built inside a command or a test must not hand the
        # whole process's root logger a handler on the stderr of the moment (later INFO lines of
        # alembic and others then went to a closed stream as "--- Logging error ---").
        logging_config=LoggingConfig(configure_root_logger=False),
        # Forged cookie-authenticated changes are refused before any handler (api.app.csrf);
        # the public URL's host is this server too when a proxy rewrites Host.
        middleware=[
            metrics_middleware,
            DefineMiddleware(csrf_middleware, origins=[urlsplit(settings.public_url).netloc]),
        ],
        state=_state(svc),
        openapi_config=OpenAPIConfig(
            title="Zhida (直达) API",
            version="1",
            description="Policy matching and proactive push: offers, inbox, grants, policies.",
            path="/schema",
            render_plugins=[JsonRenderPlugin(), SwaggerRenderPlugin()],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="A token from `zhida users token NAME`.",
                    ),
                    "Session": SecurityScheme(
                        type="apiKey",
                        name="zhida_session",
                        security_scheme_in="cookie",
                        description="The console's cookie, set by POST /api/v1/login.",
                    ),
                }
            ),
            security=[{"BearerToken": []}, {"Session": []}],
        ),
        template_config=TemplateConfig(directory=_HERE / "templates", engine=JinjaTemplateEngine),
        debug=False,
    )
    document_errors(app.openapi_schema)  # the one error shape, on every operation
    return app


def _state(svc: Services) -> State:
    return State({"services": svc, "metrics": Metrics()})
