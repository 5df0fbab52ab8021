"""Profiles: the schema, validation, stores for residents, enterprises and service events."""

from profiles.schema import ENTITY_NAMES, Entity, Field, Schema, load_schema

__all__ = ["ENTITY_NAMES", "Entity", "Field", "Schema", "load_schema"]
