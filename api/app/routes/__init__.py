"""The API's route handlers, one module per area; ``ROUTES`` is what the app mounts."""

from __future__ import annotations

from api.app.routes.algorithm import ALGORITHM_ROUTES
from api.app.routes.console import CONSOLE_ROUTES
from api.app.routes.console_analyst import ANALYST_ROUTES
from api.app.routes.console_application import APPLICATION_ROUTES
from api.app.routes.console_objections import OBJECTION_ROUTES
from api.app.routes.console_officer import OFFICER_CONSOLE_ROUTES
from api.app.routes.console_operator import OPERATOR_ROUTES
from api.app.routes.console_parameters import PARAMETER_ROUTES
from api.app.routes.console_subject import SUBJECT_CONSOLE_ROUTES
from api.app.routes.deliveries import DELIVERY_ROUTES
from api.app.routes.dryrun import DRY_RUN_ROUTES
from api.app.routes.explain import EXPLAIN_ROUTES
from api.app.routes.exports import EXPORT_ROUTES
from api.app.routes.ingest import INGEST_ROUTES
from api.app.routes.ops import OPS_ROUTES
from api.app.routes.parameters import PARAMETER_API_ROUTES
from api.app.routes.policies import POLICY_ROUTES
from api.app.routes.policy_form import POLICY_FORM_ROUTES
from api.app.routes.policy_test import POLICY_TEST_ROUTES
from api.app.routes.privacy import PRIVACY_ROUTES
from api.app.routes.queues import QUEUE_ROUTES
from api.app.routes.reach import REACH_ROUTES
from api.app.routes.session import SESSION_ROUTES
from api.app.routes.simulations import SIMULATION_ROUTES
from api.app.routes.subjects import SUBJECT_ROUTES
from api.app.routes.tags import TAG_ROUTES

__all__ = ["ROUTES"]

ROUTES = [
    *OPS_ROUTES,
    *SESSION_ROUTES,
    *SUBJECT_ROUTES,
    *EXPLAIN_ROUTES,
    *POLICY_ROUTES,
    *DELIVERY_ROUTES,
    *REACH_ROUTES,
    *CONSOLE_ROUTES,
    *ANALYST_ROUTES,
    *OPERATOR_ROUTES,
    *SUBJECT_CONSOLE_ROUTES,
    *APPLICATION_ROUTES,
    *OBJECTION_ROUTES,
    *DRY_RUN_ROUTES,
    *INGEST_ROUTES,
    *TAG_ROUTES,
    *SIMULATION_ROUTES,
    *EXPORT_ROUTES,
    *QUEUE_ROUTES,
    *POLICY_TEST_ROUTES,
    *POLICY_FORM_ROUTES,
    *PRIVACY_ROUTES,
    *OFFICER_CONSOLE_ROUTES,
    *ALGORITHM_ROUTES,
    *PARAMETER_ROUTES,
    *PARAMETER_API_ROUTES,
]
