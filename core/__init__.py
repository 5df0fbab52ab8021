"""Core: settings, database engine and migrations, clock, the error tree.  No business logic.

The database lives in ``core.db`` (``get_engine``, ``upgrade``), imported where needed: it
pulls in SQLAlchemy and Alembic, which pure code should not pay for.
"""

from core.clock import Clock, FixedClock, SystemClock
from core.errors import (
    ConfigurationError,
    DatabaseError,
    DeliveryError,
    InputFileError,
    NotFoundError,
    RuleError,
    SchemaError,
    ValidationError,
    ZhidaError,
)
from core.settings import Settings, get_settings

__all__ = [
    "Clock",
    "ConfigurationError",
    "DatabaseError",
    "DeliveryError",
    "FixedClock",
    "InputFileError",
    "NotFoundError",
    "RuleError",
    "SchemaError",
    "Settings",
    "SystemClock",
    "ValidationError",
    "ZhidaError",
    "get_settings",
]
