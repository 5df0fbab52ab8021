"""Core: settings, database engine and migrations, clock, the error tree.  No business logic."""

from core.clock import Clock, FixedClock, SystemClock
from core.db import get_engine, upgrade
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
    "get_engine",
    "get_settings",
    "upgrade",
]
