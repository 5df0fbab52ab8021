"""Profiles: the schema, validation, stores for residents, enterprises and service events.

The database store is ``profiles.store`` (``ProfileStore``), imported where needed so that pure
code does not load SQLAlchemy.
"""

from profiles.derive import with_derived
from profiles.files import PopulationFilesError, require_population_files
from profiles.readers import Records, read_records
from profiles.schema import ENTITY_NAMES, Entity, Field, Schema, load_schema
from profiles.validation import conform

__all__ = [
    "ENTITY_NAMES",
    "Entity",
    "Field",
    "PopulationFilesError",
    "Records",
    "Schema",
    "conform",
    "load_schema",
    "read_records",
    "require_population_files",
    "with_derived",
]
