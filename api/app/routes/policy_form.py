"""The 政策要素 form's API: what the form offers, and a policy read into it or written from it.

``GET /api/v1/policies/form/choices`` gives the pickers their entries, in Chinese and English:
the schema's fields per audience (and a household's, a member's, an employee's), the tag library
with its descriptions, the parameters with their brackets, the operators, modes, periods, units,
recipients, the relation kinds (替代 / 补充 / 互斥) and the fixed list of categories.
``POST /api/v1/policies/form/read`` reads a YAML document into the form (or says why the form
cannot show it); ``POST /api/v1/policies/form/write`` writes a form as YAML — the source of
truth, validated as any draft is — with each decision table row's problems.  Nothing is
stored: saving is the ordinary draft.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import JSONBody

from api.app.access import allow
from api.app.errors import error_body
from api.app.i18n import language_of
from profiles.schema import Entity, Schema, load_schema
from rules.conditions import JOINS, OPERATORS, conditions_text, number_text
from rules.errors import FormError, PositionedRuleError
from rules.form import (
    AUDIENCE_WORDS,
    MODE_WORDS,
    PERIOD_WORDS,
    RECIPIENT_WORDS,
    RELATION_WORDS,
    UNIT_WORDS,
    read_form,
    write_form,
)
from rules.form_json import form_from_json, form_json
from rules.groups import AGGREGATES
from rules.parameters import active
from rules.policy import CATEGORIES
from rules.tables import check_table

__all__ = ["POLICY_FORM_ROUTES", "FormDocument", "FormIn", "FormOut", "form_choices"]

_editors = allow("officer", "reviewer", "admin")


@dataclass(frozen=True)
class FormDocument:
    document: str


@dataclass(frozen=True)
class FormIn:
    form: dict[str, Any]


@dataclass(frozen=True)
class FormOut:
    form: dict[str, Any] | None  # None: the form cannot show this document
    note: str = ""  # why not, in the request's language
    lost: list[str] = field(default_factory=list)  # comments writing the form would drop


@dataclass(frozen=True)
class TableProblem:
    tier: int | None  # the 1-based row of the decision table; None: the table as a whole
    severity: str
    message: str


@dataclass(frozen=True)
class WrittenForm:
    document: str
    table: list[TableProblem] = field(default_factory=list)


def _words(table: dict[str, tuple[str, str]]) -> list[dict[str, str]]:
    return [{"value": k, "zh": zh, "en": en} for k, (zh, en) in table.items()]


def _fields(entity: Entity, prefix: str = "") -> list[dict[str, Any]]:
    return [
        {
            "name": prefix + f.name, "zh": ("家庭." if prefix else "") + (f.name_zh or f.name),
            "type": f.type, "values": list(f.values),
            "values_zh": [f.label(v, "zh") for v in f.values],
            "values_en": [f.label(v, "en") for v in f.values],
            "about_zh": f.zh, "about_en": f.en, "unit": f.unit,
        }
        for f in entity.fields
        if f.name not in (entity.key, "tags") and f.type != "tags"
    ]  # fmt: skip


def form_choices(schema: Schema) -> dict[str, Any]:
    """Every picker's entries (pure: from the schema, the tag library and the parameters)."""
    from profiles.tagging.definitions import load_tags

    resident = _fields(schema.resident)
    employees = _fields(schema.employment) + resident
    fields = {
        "resident": resident + _fields(schema.household, "household."),
        "enterprise": _fields(schema.enterprise),
        "household": _fields(schema.household),
        "members": resident,
        "employees": [f for f in employees if f["name"] not in ("person_id", "enterprise_id")],
    }
    tags: dict[str, list[dict[str, str]]] = {"resident": [], "enterprise": []}
    for tag in load_tags():
        tags.setdefault(tag.audience, []).append(
            {"id": tag.id, "zh": tag.name_zh, "about_zh": tag.zh, "about_en": tag.en}
        )
    parameters = [
        {
            "name": p.name, "zh": p.name_zh, "kind": p.kind, "by": p.by, "unit": p.unit,
            "about_zh": p.description, "about_en": p.description_en,
            "brackets": sorted({
                (number_text(b.threshold) if b.threshold is not None else (b.key or ""))
                for v in p.versions for b in v.brackets
            }, key=lambda s: (len(s), s)),
        }
        for p in active().parameters
    ]  # fmt: skip
    aggregates = [
        {"name": a.name, "zh": a.zh_words, "group": a.group, "op": a.op}
        for name, a in AGGREGATES.items()
        if name == a.name and a.op in ("any", "all", "count")
    ]
    return {
        "fields": fields,
        "tags": tags,
        "parameters": parameters,
        "aggregates": aggregates,
        "operators": [
            {"value": o.code, "zh": o.zh, "en": o.en, "zh_date": o.zh_date}
            for o in OPERATORS.values()
        ],
        "joins": _words(dict(JOINS)),
        "modes": _words(MODE_WORDS),
        "periods": _words(PERIOD_WORDS),
        "units": _words(UNIT_WORDS),
        "recipients": _words(RECIPIENT_WORDS),
        "audiences": _words(AUDIENCE_WORDS),
        "relations": _words(RELATION_WORDS),
        "categories": list(CATEGORIES),
    }


@get("/api/v1/policies/form/choices", guards=[_editors], sync_to_thread=True, tags=["policies"])
def choices(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What the 政策要素 form offers: fields, tags, parameters, operators and words."""
    return form_choices(load_schema())


@post(
    "/api/v1/policies/form/read", guards=[_editors], status_code=200, sync_to_thread=True,
    tags=["policies"],
)  # fmt: skip
def read(request: Request[Any, Any, Any], data: JSONBody[FormDocument]) -> FormOut:
    """A policy's YAML read into the form, or why the form cannot show it (then keep to the
    YAML editor); ``lost`` lists the comments beside keys that writing the form drops."""
    reading = read_form(data.document)
    if reading.form is None:
        note = reading.note_zh if language_of(request) == "zh" else reading.note
        return FormOut(None, note)
    return FormOut(form_json(reading.form), "", list(reading.lost))


@post(
    "/api/v1/policies/form/write", guards=[_editors], status_code=200, sync_to_thread=True,
    tags=["policies"],
)  # fmt: skip
def write(request: Request[Any, Any, Any], data: JSONBody[FormIn]) -> Response[Any]:
    """The form written as the policy's YAML, with each decision-table row's problems; a form
    that cannot be written is a 422 naming the row or key and how to fix it, in the page's
    language, and the section of the form it belongs beside (``error.section``)."""
    lang = language_of(request)
    try:
        form = form_from_json(data.form)
        document = write_form(form)
    except FormError as exc:
        body = error_body(422, "FormError", exc.in_language(lang), section=exc.section)
        return Response(body, status_code=422)
    problems: list[TableProblem] = []
    if form.amount.kind == "table" and form.amount.table is not None:
        try:
            entity = load_schema().entity(form.audience)
            eligibility = conditions_text(form.conditions, form.audience)
            found = check_table(form.amount.table, eligibility, entity)
        except (FormError, PositionedRuleError):
            found = []  # the rows have an error of their own: validation shows it in place
        problems = [TableProblem(f.tier, f.severity, f.message(lang)) for f in found]
    return Response(WrittenForm(document, problems))


POLICY_FORM_ROUTES = [choices, read, write]
