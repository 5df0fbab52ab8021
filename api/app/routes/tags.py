"""Tags (标签库): the library's definitions, and one subject's tags now.

Definitions are public metadata (every role may list them).  A subject's tags are computed from
its record and service events as of today, like event-driven matching does; only the subject
itself or an admin (an audited profile read) may see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from litestar import Request, get
from litestar.params import FromPath

from api.app.access import allow
from api.app.auth import ROLES
from api.app.routes.subjects import check_caller, subject_guard
from api.app.services import services
from core.errors import NotFoundError
from matcher.live.state import load_state

__all__ = ["TAG_ROUTES", "SubjectTags", "Tag"]


@dataclass(frozen=True)
class Tag:
    id: str
    audience: str  # resident | enterprise
    name_zh: str
    zh: str  # what it means, in Chinese
    en: str  # and in English
    owner: str  # the department that owns the definition


@dataclass(frozen=True)
class SubjectTags:
    subject_id: str
    subject_type: str
    as_of: date
    tags: list[Tag]


def _library() -> list[Tag]:
    from profiles.tagging import load_tags

    return [Tag(t.id, t.audience, t.name_zh, t.zh, t.en, t.owner) for t in load_tags()]


@get("/api/v1/tags", guards=[allow(*ROLES)], sync_to_thread=True, tags=["tags"])
def list_tags() -> list[Tag]:
    """Every tag of the library: who it is for, what it means, who owns it."""
    return sorted(_library(), key=lambda t: (t.audience, t.id))


@get(
    "/api/v1/subjects/{subject_id:str}/tags",
    guards=[subject_guard], sync_to_thread=True, tags=["subjects"],
)  # fmt: skip
def subject_tags(request: Request[Any, Any, Any], subject_id: FromPath[str]) -> SubjectTags:
    """The subject's tags today, from its record and service events."""
    from profiles.schema import load_schema
    from profiles.tagging import load_tags
    from profiles.tagging.single import subject_tags as tags_of

    check_caller(request, subject_id, "tags")
    svc = services(request)
    schema = load_schema()
    as_of = svc.live.as_of()
    for entity_name in ("resident", "enterprise"):
        state = load_state(svc.live, subject_id, entity_name)
        if state.record is None:
            continue
        library = [t for t in load_tags(schema=schema) if t.audience == entity_name]
        names = tags_of(state.record, state.events, library, entity=state.entity, as_of=as_of)
        shown = [t for t in _library() if t.id in names and t.audience == entity_name]
        return SubjectTags(subject_id, entity_name, as_of, sorted(shown, key=lambda t: t.id))
    raise NotFoundError(f"no resident or enterprise has the id {subject_id!r}")


TAG_ROUTES = [list_tags, subject_tags]
