"""The tag library: declarative life-cycle tags, computed in batch or for one subject."""

from profiles.tagging.batch import compute_tags, tags_for_subject, window_start
from profiles.tagging.definitions import (
    BUILT_IN_TAGS,
    Condition,
    TagDefinition,
    TagError,
    TagLibraryError,
    Window,
    load_tags,
)

__all__ = [
    "BUILT_IN_TAGS",
    "Condition",
    "TagDefinition",
    "TagError",
    "TagLibraryError",
    "Window",
    "compute_tags",
    "load_tags",
    "tags_for_subject",
    "window_start",
]
