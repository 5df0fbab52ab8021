"""The web API (litestar): users and roles, the audit log, and the JSON endpoints.

``create_app`` builds the application ``zhida serve`` runs; handlers are thin and call the
stores of the packages below (rules, matcher, notifier).
"""

from __future__ import annotations

from api.app.app import create_app
from api.app.audit import AuditChainError, AuditEntry, AuditLog
from api.app.auth import ROLES, User, UserStore
from api.app.errors import AuthenticationError, ForbiddenError

__all__ = [
    "ROLES",
    "AuditChainError",
    "AuditEntry",
    "AuditLog",
    "AuthenticationError",
    "ForbiddenError",
    "User",
    "UserStore",
    "create_app",
]
