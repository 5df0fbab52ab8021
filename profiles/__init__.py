"""Profiles: the schema, validation, stores for residents, enterprises and service events."""

from profiles.derive import with_derived
from profiles.schema import ENTITY_NAMES, Entity, Field, Schema, load_schema
from profiles.store import ProfileStore, add_missing_columns
from profiles.validation import ValidationError, conform, read_records

__all__ = [
    "ENTITY_NAMES",
    "Entity",
    "Field",
    "ProfileStore",
    "Schema",
    "ValidationError",
    "add_missing_columns",
    "conform",
    "load_schema",
    "read_records",
    "with_derived",
]
