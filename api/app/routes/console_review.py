"""The reviewer's pages (issue 17): the queue of versions awaiting review, and one version's review.

``/console/review`` lists every version in review, oldest submission first, with its declared
relations.  ``/console/review/{id}/{version}`` shows the version read-only (reviewers do not
edit: the API refuses a changed document too), its relation to published policies and the
duplicates found first and prominently, the version history with statuses, the change against
the published version, the effect of publishing (``GET …/consequences``, asked for explicitly:
it spends the dry-run's privacy budget) and the two decisions — 退回修改 with a required reason,
and approve, confirmed with what will happen.  ``static/review.js`` calls the JSON API.
"""

from __future__ import annotations

import difflib
from typing import Any, Final

from anyio import to_thread
from litestar import Request, Response, get
from litestar.params import FromPath

from api.app.auth import User
from api.app.pages import gate, render
from api.app.routes.review import relations_of
from api.app.services import services
from core.errors import NotFoundError
from rules.store import PolicyVersion

__all__ = ["REVIEW_CONSOLE_ROUTES", "queue_rows"]

_QUEUE_READERS: Final = ("officer", "reviewer", "admin")
_REVIEWERS: Final = ("reviewer", "admin")


def queue_rows(versions: list[PolicyVersion]) -> list[dict[str, Any]]:
    """The versions awaiting review, the longest waiting first (pure).

    >>> from datetime import date, datetime
    >>> def v(pid, n, status, day):
    ...     doc = "title: 津贴\\ndepartment: 民政局\\n"
    ...     return PolicyVersion(pid, n, status, doc, "h", "c", "li", "", datetime(2026, 1, day),
    ...                          None, None, date(2026, 1, 1), None)
    >>> rows = queue_rows([v("a", 1, "published", 1), v("b", 2, "in_review", 3),
    ...                    v("c", 1, "in_review", 2)])
    >>> [(r["policy_id"], r["version"], r["title"], r["department"]) for r in rows]
    [('c', 1, '津贴', '民政局'), ('b', 2, '津贴', '民政局')]
    """
    waiting = sorted(
        (v for v in versions if v.status == "in_review"),
        key=lambda v: (v.submitted_at or v.created_at, v.policy_id),
    )
    return [
        {
            "policy_id": v.policy_id,
            "version": v.version,
            "title": _key(v.document, "title"),
            "department": _key(v.document, "department"),
            "author": v.author,
            "submitted_at": v.submitted_at or v.created_at,
        }
        for v in waiting
    ]


def _key(document: str, key: str) -> str:
    for line in document.splitlines():
        if line.startswith(f"{key}:"):
            return line.partition(":")[2].strip().strip("'\"")
    return ""


@get("/console/review", include_in_schema=False)
async def review_queue(request: Request[Any, Any, Any]) -> Response[Any]:
    return await to_thread.run_sync(_queue, request)


def _queue(request: Request[Any, Any, Any]) -> Response[Any]:
    user = gate(request, _QUEUE_READERS)
    if not isinstance(user, User):
        return user
    rows = queue_rows(services(request).policies.all_versions())
    return render(request, "officer_review.html", user=user, rows=rows, item=None)


@get("/console/review/{policy_id:str}/{version:int}", include_in_schema=False)
async def review_item(
    request: Request[Any, Any, Any], policy_id: FromPath[str], version: FromPath[int]
) -> Response[Any]:
    return await to_thread.run_sync(_item, request, policy_id, version)


def _item(request: Request[Any, Any, Any], policy_id: str, version: int) -> Response[Any]:
    user = gate(request, _REVIEWERS)
    if not isinstance(user, User):
        return user
    svc = services(request)
    try:
        history = svc.policies.versions(policy_id)
        found = relations_of(svc, policy_id, version)
    except NotFoundError as err:
        return render(request, "denied.html", status=404, user=user, needed=err.message)
    item = next(v for v in history if v.version == version)
    published = [v for v in history if v.status == "published" and v.version != version]
    old, old_name = (
        (published[-1].document, f"{policy_id}@v{published[-1].version}")
        if published
        else ("", "(none)")
    )
    if not published:  # a new policy replacing another: the change is against that one
        replaced = [r.policy_id for r in found.declared if r.kind == "replaces"]
        texts = svc.policies.catalog().texts
        if replaced and replaced[0] in texts:
            old, old_name = texts[replaced[0]], replaced[0]
    diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), item.document.splitlines(keepends=True),
            fromfile=old_name, tofile=f"{policy_id}@v{version}",
        )
    )  # fmt: skip
    return render(
        request, "officer_review.html", user=user, rows=None, item=item, history=history,
        relations=found, diff=diff, own=item.author == user.username,
    )  # fmt: skip


REVIEW_CONSOLE_ROUTES = [review_queue, review_item]
