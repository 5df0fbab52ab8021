"""The officer console: the policy list with status and reach, and the policy editor.

``/console/policies`` lists every policy in the database — published, in review, drafts and
retired — with its newest version's status and its reach in the latest match run (counts under
ten shown as "<10").  ``/console/policies/new`` and ``/console/policies/{id}`` open the editor:
the YAML with syntax highlighting, validated as the officer types (each problem under its line
and column), a field picker fed from the profile schema (Chinese names), the test panel
(``POST /api/v1/policies/test``), the reach preview (``POST /api/v1/policies/dry-run``), the
diff against the published version, and the lifecycle buttons — all calls to the JSON API
from ``static/editor.js``; the page itself only renders what the stores hold.

Officers, reviewers and admins use the editor; analysts read the list.  Four eyes are the
store's rule (the author of a version cannot approve it); the page only explains it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any, Final

from anyio import to_thread
from litestar import Request, Response, get
from litestar.params import FromPath

from api.app.auth import User
from api.app.i18n import language_of, words
from api.app.pages import gate, render
from api.app.routes.console_review import REVIEW_CONSOLE_ROUTES
from api.app.services import Services, services
from core.errors import NotFoundError, ZhidaError
from profiles.schema import Entity, Schema
from rules.store import PolicyVersion

__all__ = ["NEW_POLICY", "OFFICER_CONSOLE_ROUTES", "field_choices", "policy_rows"]

_EDITORS: Final = ("officer", "reviewer", "admin")
_READERS: Final = ("officer", "reviewer", "analyst", "admin")
# The words editor.js shows (it gets them from the page, in the page's language).
_JS_WORDS: Final = ("pol_", "status_", "clause_", "eligible", "maybe", "not_eligible")

NEW_POLICY: Final = """\
id: bj-new-policy
title: 新政策
title_en: A new policy
department: {department}
audience: resident
mode: proactive_push
eligibility: 'age >= 60 and hukou_city == "北京市"'
benefit: '100'
benefit_period: month
valid_from: {start}
"""


def _reach(svc: Services, username: str) -> dict[str, tuple[int | str, int | str]]:
    """The latest run's released reach per policy (noisy, as GET /api/v1/reach); none shown
    once the user's privacy budget is spent."""
    from api.app.routes.reach import released_reach
    from simulations.budget import BudgetSpentError

    run = svc.runs.latest()
    if run is None or not run.pairs_file.is_file():
        return {}
    try:
        rows = released_reach(svc, username, run)
    except BudgetSpentError:
        return {}
    return {r["policy_id"]: (r["eligible"], r["maybe"]) for r in rows}


def policy_rows(
    versions: list[PolicyVersion], reach: dict[str, tuple[int | str, int | str]]
) -> list[dict[str, Any]]:
    """One row per policy: its newest version, the published one, and reach (pure).

    >>> from datetime import date, datetime
    >>> def v(n, status):
    ...     return PolicyVersion("p", n, status, "title: 津贴\\n", "h", "c", "li", "",
    ...                          datetime(2026, 1, 1), None, None, date(2026, 1, 1), None)
    >>> row = policy_rows([v(1, "published"), v(2, "draft")], {"p": (120, "<10")})[0]
    >>> row["status"], row["version"], row["published"], row["eligible"], row["title"]
    ('draft', 2, 1, 120, '津贴')
    >>> policy_rows([v(1, "draft")], {})[0]["eligible"]
    '—'
    """
    by_policy: dict[str, list[PolicyVersion]] = defaultdict(list)
    for v in versions:
        by_policy[v.policy_id].append(v)
    rows = []
    for policy_id, history in sorted(by_policy.items()):
        newest = max(history, key=lambda v: v.version)
        published = [v.version for v in history if v.status == "published"]
        # A policy never published was never matched: no reach to show, rather than a 0.
        eligible, maybe = reach.get(policy_id, (0, 0)) if published else ("—", "—")
        rows.append(
            {
                "policy_id": policy_id,
                "title": _title(newest.document),
                "status": newest.status,
                "version": newest.version,
                "published": max(published) if published else None,
                "author": newest.author,
                "eligible": eligible,
                "maybe": maybe,
            }
        )
    return rows


def _title(document: str) -> str:
    """The ``title:`` of a YAML document without parsing it (drafts may not parse)."""
    for line in document.splitlines():
        if line.startswith("title:"):
            return line.partition(":")[2].strip().strip("'\"")
    return ""


def field_choices(schema: Schema) -> dict[str, list[dict[str, Any]]]:
    """The field picker's entries per audience, straight from the profile schema.

    >>> from profiles.schema import load_schema
    >>> age = next(f for f in field_choices(load_schema())["resident"] if f["name"] == "age")
    >>> age["zh"], age["type"]
    ('年龄', 'integer')
    >>> gender = next(f for f in field_choices(load_schema())["resident"] if f["name"] == "gender")
    >>> gender["values"], gender["values_zh"]
    (['male', 'female'], ['男', '女'])
    """
    return {name: _fields(schema.entity(name)) for name in ("resident", "enterprise")}


def _fields(entity: Entity) -> list[dict[str, Any]]:
    return [
        {
            "name": f.name, "zh": f.name_zh or f.name, "type": f.type, "values": list(f.values),
            "values_zh": [f.label(v, "zh") for v in f.values],
            "values_en": [f.label(v, "en") for v in f.values],
            "about_zh": f.zh, "about_en": f.en, "unit": f.unit,
        }
        for f in entity.fields
        if f.name != entity.key
    ]  # fmt: skip


@get("/console/policies", include_in_schema=False)
async def policy_list(request: Request[Any, Any, Any]) -> Response[Any]:
    return await to_thread.run_sync(_policy_list, request)


def _policy_list(request: Request[Any, Any, Any]) -> Response[Any]:
    user = gate(request, _READERS)
    if not isinstance(user, User):
        return user
    svc = services(request)
    rows = policy_rows(svc.policies.all_versions(), _reach(svc, user.username))
    run = svc.runs.latest()
    return render(
        request, "officer_list.html", user=user, rows=rows, run=run,
        can_edit=user.role in _EDITORS, can_author=user.role in ("officer", "admin"),
    )  # fmt: skip


@get("/console/policies/new", include_in_schema=False)
async def new_policy(request: Request[Any, Any, Any]) -> Response[Any]:
    return await to_thread.run_sync(_editor, request, None)


@get("/console/policies/{policy_id:str}", include_in_schema=False)
async def edit_policy(request: Request[Any, Any, Any], policy_id: FromPath[str]) -> Response[Any]:
    return await to_thread.run_sync(_editor, request, policy_id)


def _review_notes(svc: Services, user: User, history: list[PolicyVersion]) -> dict[str, Any]:
    """What the review says on the editor: the newest version's return reason, its relations
    and duplicates (a draft must declare one for each before it is submitted), and whether the
    user may change the text (reviewers read only)."""
    from api.app.routes.review import relations_of

    newest = history[-1] if history else None
    relations = None
    if newest is not None and newest.status == "draft" and user.role in ("officer", "admin"):
        try:
            relations = relations_of(svc, newest.policy_id, newest.version)
        except ZhidaError:
            relations = None  # a draft that no longer loads: the validation says why
    return {
        "newest": newest,
        "relations": relations,
        "read_only": user.role not in ("officer", "admin"),
    }


def _editor(request: Request[Any, Any, Any], policy_id: str | None) -> Response[Any]:
    from profiles.schema import load_schema

    user = gate(request, _EDITORS)
    if not isinstance(user, User):
        return user
    svc = services(request)
    history: list[PolicyVersion] = []
    if policy_id is not None:
        try:
            history = svc.policies.versions(policy_id)
        except NotFoundError as err:
            return render(request, "denied.html", status=404, user=user, needed=err.message)
    published = [v for v in history if v.status == "published"]
    # A new policy starts valid from January 1st, so it is in force on the latest run's date.
    start = date.today().replace(month=1, day=1).isoformat()
    document = history[-1].document if history else NEW_POLICY.format(
        department=user.department or "北京市民政局", start=start
    )  # fmt: skip
    t = words(language_of(request))
    return render(
        request, "officer_editor.html", user=user, policy_id=policy_id, history=history,
        review=_review_notes(svc, user, history),
        document=document, published=published[-1] if published else None,
        fields=field_choices(load_schema()),
        history_json=[
            {"version": v.version, "status": v.status, "author": v.author} for v in history
        ],
        js_words={k: v for k, v in t.items() if k.startswith(_JS_WORDS)},
        can_author=user.role in ("officer", "admin"),
        can_review=user.role in ("reviewer", "admin"),
    )  # fmt: skip


OFFICER_CONSOLE_ROUTES = [policy_list, new_policy, edit_policy, *REVIEW_CONSOLE_ROUTES]
