"""The editor's test panel: a draft policy against one subject or a typed profile, clause by clause.

``POST /api/v1/policies/test`` takes the draft's YAML and either a ``subject_id`` of the
population the server was started with or a ``profile`` the officer typed (English or Chinese
field names of the schema), and answers each clause of the eligibility rule true, false or
unknown, in plain words, with the overall status and the benefit, on the date explain and
ingestion use (:func:`matcher.live.source.live_as_of`).  A subject is read as explain reads it
(the database over the served population).  Nothing is stored.  A
subject's fields that the schema does not mark ordinary are masked in everything echoed back —
the values a clause read, the "it is …" of a counterfactual, the benefit when its rule reads
such a field (:func:`api.app.masking.derived_masked`) and the subject's own id — and reading a
subject is audited as a profile read, as every staff read of a profile is.  A typed profile is
echoed as typed: the officer wrote it.  A subject is evaluated with its household, members and
staff, as the batch run sees it (rules over groups: 家庭.人均月收入, 员工数(…)); a household's
figure or an aggregate is masked as the fields it is computed from are
(:func:`group_value_masked`).

>>> from profiles.schema import load_schema
>>> typed_profile({"年龄": "82", "hukou_city": "北京市"}, load_schema().resident)
{'age': 82, 'hukou_city': '北京市'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from litestar import Request, post
from litestar.params import JSONBody

from api.app.access import allow, current_user, source_of
from api.app.i18n import language_of, words
from api.app.masking import derived_masked, mask, shown
from api.app.services import services
from core.errors import NotFoundError, ValidationError
from matcher.live.source import find_subject, tag_library
from profiles.schema import Entity, Field, Schema
from rules.plain_words import plain_clause, plain_counterfactual, tag_names
from rules.suggest import nearest

__all__ = [
    "POLICY_TEST_ROUTES",
    "ClauseResult",
    "PolicyTestIn",
    "PolicyTestOut",
    "mask_counterfactual",
    "typed_profile",
]

_TRUTH = {True: "true", False: "false", None: "unknown"}


@dataclass(frozen=True)
class PolicyTestIn:
    document: str  # one policy's YAML (need not be stored)
    subject_id: str | None = None  # a person_id or enterprise_id of the served population
    profile: dict[str, Any] | None = None  # or a profile typed by hand: field -> value


@dataclass(frozen=True)
class ClauseResult:
    text: str  # the officer's text of the clause
    words: str  # the same in plain words of the asked language
    value: str  # true | false | unknown
    value_words: str  # 满足 / 不满足 / 未知 (met / not met / unknown)
    values: dict[str, Any]  # field -> value read (sensitive ones masked; null = unknown)
    counterfactual: str | None  # "eligible if …; it is …" (the value masked if sensitive)
    counterfactual_words: str | None = None  # the same in plain words of the asked language


@dataclass(frozen=True)
class PolicyTestOut:
    policy_id: str
    audience: str
    as_of: date
    subject: str | None  # the subject's id, masked; null for a typed profile
    status: str  # eligible | maybe | not_eligible
    status_words: str
    benefit: Decimal | str | None  # CNY per benefit_period, when eligible and the rule has
    # one; "***" for a subject when the benefit rule reads a masked field (income, …)
    benefit_period: str | None
    clauses: list[ClauseResult]
    unknown_fields: list[str]
    settle: list[dict[str, Any]] = field(default_factory=list)  # for a maybe: what settles it


def _coerce(f: Field, raw: Any) -> Any:
    """``raw`` (as typed, often a string) as a value of ``f``'s type; ValueError if it is not."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, dict | list) and f.type != "tags":
        raise ValueError("one value, not a list or an object")
    text = str(raw).strip()
    match f.type:
        case "integer":
            if isinstance(raw, bool) or not text.lstrip("-").isdigit():
                raise ValueError("a whole number")
            return int(text)
        case "number":
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise ValueError("a number") from None
            if not number.is_finite():
                raise ValueError("a finite number")
            return number
        case "boolean":
            if isinstance(raw, bool):
                return raw
            truth = {"true": True, "false": False, "是": True, "否": False, "1": True, "0": False}
            if text.lower() not in truth:
                raise ValueError("true or false (是/否)")
            return truth[text.lower()]
        case "date" | "datetime":
            try:
                return date.fromisoformat(text[:10])
            except ValueError:
                raise ValueError("a date YYYY-MM-DD") from None
        case "enum":
            if text not in f.values:
                raise ValueError(f"one of {', '.join(f.values)}")
            return text
        case "tags":
            items = raw if isinstance(raw, list) else text.replace("，", ",").split(",")
            return frozenset(str(t).strip() for t in items if t is not None and str(t).strip())
        case _:
            return text


def typed_profile(raw: dict[str, Any], entity: Entity) -> dict[str, Any]:
    """A profile typed by hand, checked against ``entity``: English or Chinese field names.

    >>> from profiles.schema import load_schema
    >>> try:
    ...     typed_profile({"agee": 80}, load_schema().resident)
    ... except ValidationError as err:
    ...     print(err)
    profile field 'agee' is not a resident field; did you mean 'age'?
    >>> try:
    ...     typed_profile({"年纪": 80}, load_schema().resident)
    ... except ValidationError as err:
    ...     print(err)
    profile field '年纪' is not a resident field; did you mean '年龄'?
    """
    out: dict[str, Any] = {}
    for name, value in raw.items():
        f = entity.by_name.get(name) or entity.by_name_zh.get(name)
        if f is None:
            names = [*entity.by_name, *entity.by_name_zh]
            near = nearest(name, names)
            hint = f"did you mean {near!r}?" if near else "see the field picker for the names"
            raise ValidationError(f"profile field {name!r} is not a {entity.name} field; {hint}")
        try:
            out[f.name] = _coerce(f, value)
        except ValueError as err:
            raise ValidationError(
                f"profile field {name!r}: expected {err}, got {value!r}; correct the value"
            ) from None
    return out


def mask_counterfactual(text: str | None, sensitive: bool) -> str | None:
    """Drop the value a counterfactual reveals when the field it reads is sensitive.

    >>> mask_counterfactual("eligible if monthly_income < 3000; it is 3200", True)
    'eligible if monthly_income < 3000; it is ***'
    >>> mask_counterfactual("eligible if age >= 80; it is 75", False)
    'eligible if age >= 80; it is 75'
    """
    if text is None or not sensitive:
        return text
    head, sep, tail = text.partition("; it is ")
    return f"{head}{sep}***" if sep and tail != "unknown" else text


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def group_value_masked(name: str, entity: Entity, schema: Schema) -> bool:
    """Whether a value a rule over groups read is masked for staff, as a field's value is:
    a household field by the household's sensitivity (income per capita and declared assets
    are sensitive, the size is not); an aggregate over members or staff when its condition or
    value reads a masked field of a resident or an employment (a sum of incomes), and a count
    (any, all) when its condition reads a sensitive one (members on 低保): the household's
    own counts by age are ordinary in the schema, its income figures sensitive.

    >>> from profiles.schema import load_schema
    >>> schema = load_schema()
    >>> [group_value_masked(n, schema.resident, schema) for n in (
    ...     "household.income_per_capita", "household.size", "household.housing")]
    [True, False, False]
    >>> group_value_masked("household.members_sum(monthly_income)", schema.resident, schema)
    True
    >>> [group_value_masked(n, schema.enterprise, schema) for n in (
    ...     "employees_count(age <= 24)", "employees_min(age)")]
    [False, True]
    >>> group_value_masked('household.members_count(subsistence_status == "dibao")',
    ...                    schema.resident, schema)
    True
    """
    household = schema.entity("household")
    if name.startswith("household.") and "(" not in name:
        f = household.by_name.get(name.removeprefix("household."))
        return f is None or f.masked
    if "(" not in name:  # a field of the subject's own entity
        f = entity.by_name.get(name)
        return f is not None and f.masked
    from rules.groups import AGGREGATES

    function = name[: name.index("(")].removeprefix("household.")
    aggregate = AGGREGATES.get(function)
    counts = aggregate is not None and aggregate.op in ("count", "any", "all")
    people = (schema.resident, schema.entity("employment"), household)
    read = [e.by_name[w] for w in _NAME.findall(name[name.index("(") :]) for e in people
            if w in e.by_name]  # fmt: skip
    # A count says how many members are so, not what anyone's value is: masked only when
    # the condition reads a sensitive field (as the household's own members_under_3 is
    # ordinary and its income per capita sensitive); a sum, min or max shows values.
    if counts:
        return any(f.sensitivity == "sensitive" for f in read)
    return any(f.masked for f in read)


def _reads_masked(names: Iterable[str], entity: Entity, schema: Schema) -> bool:
    """Whether a value computed from ``names`` (own fields, household fields, aggregates) is
    masked for staff: when any of them is."""
    return any(
        group_value_masked(n, entity, schema) if ("." in n or "(" in n) else
        derived_masked([n], entity)
        for n in names
        if not n.startswith("parameters.")
    )  # fmt: skip


def _shown_value(name: str, value: Any, entity: Entity, schema: Schema) -> Any:
    """A value a clause read, as staff see it (masked per the schema's sensitivity)."""
    if name in entity.by_name:
        return shown(value, entity.by_name[name].sensitivity)
    grouped = ("." in name or "(" in name) and not name.startswith("parameters.")
    if grouped and value is not None and group_value_masked(name, entity, schema):
        return "***"
    return value


@post(
    "/api/v1/policies/test", guards=[allow("officer", "reviewer", "admin")],
    status_code=200, sync_to_thread=True, tags=["policies"],
)  # fmt: skip
def policy_test_panel(
    request: Request[Any, Any, Any], data: JSONBody[PolicyTestIn]
) -> PolicyTestOut:
    """Each clause of a draft's rule for one subject or a typed profile (``?lang=en``)."""
    from profiles.derive import derive_record
    from profiles.schema import load_schema
    from rules.evaluator import evaluate_benefit
    from rules.explainer import explain
    from rules.language import parse_rule
    from rules.loader import load_policy_text

    if (data.subject_id is None) == (data.profile is None):
        raise ValidationError(
            "give either subject_id (a person_id or enterprise_id) or profile "
            "({field: value}), not both and not neither"
        )
    svc, schema, lang = services(request), load_schema(), language_of(request)
    policy = load_policy_text(data.document, Path("<draft>"), schema)
    entity = schema.entity(policy.audience)
    as_of = svc.live.as_of()  # as explain, offers and ingestion (matcher.live.source)
    if data.subject_id is not None:
        subject_found = find_subject(svc.subjects, data.subject_id)
        if subject_found is None:
            raise NotFoundError(
                f"{svc.subjects.missing(data.subject_id)}; or type a profile instead"
            )
        found = subject_found.entity
        # As the batch run sees it: its household, members and staff (matcher.live.groups).
        record = subject_found.derived(as_of, tag_library(schema))
        if found.name != policy.audience:
            raise ValidationError(
                f"{policy.id} is for {policy.audience}s but {data.subject_id} is a "
                f"{found.name}; pick a {policy.audience}"
            )
        user = current_user(request)
        svc.audit.append(
            actor=user.username, role=user.role, action="profile.read", entity_type="subject",
            entity_id=data.subject_id, source=source_of(request),
            details={"what": "policy test", "policy_id": policy.id},
        )  # fmt: skip
        subject: str | None = mask(data.subject_id)
    else:
        assert data.profile is not None
        record, subject = typed_profile(data.profile, entity), None
    if data.subject_id is None:
        full = derive_record(record, entity, as_of=as_of)
        full.update(record)  # a typed age wins
    else:
        full = record
    explanation = explain(parse_rule(policy.eligibility, entity), full, as_of=as_of, schema=schema)
    hide = data.subject_id is not None  # a real subject's values are masked for staff
    benefit: Decimal | str | None = None
    if explanation.status == "eligible" and policy.benefit:
        benefit_rule = parse_rule(policy.benefit, entity, kind="benefit")
        benefit = evaluate_benefit(benefit_rule, full, as_of=as_of)
        if hide and benefit is not None and _reads_masked(benefit_rule.fields, entity, schema):
            benefit = "***"
    t = words(lang)
    names = tag_names() if any("tags" in c.text for c in explanation.clauses) else {}
    clauses = []
    for c in explanation.clauses:
        sensitive = hide and _reads_masked(c.values, entity, schema)
        values = {
            n: (_shown_value(n, v, entity, schema) if hide else v)
            for n, v in c.to_dict()["values"].items()
        }
        clauses.append(
            ClauseResult(
                c.text, plain_clause(c.text, entity, lang, names), _TRUTH[c.result],
                t[f"clause_{_TRUTH[c.result]}"], values,
                mask_counterfactual(c.counterfactual, sensitive),
                plain_counterfactual(
                    mask_counterfactual(c.counterfactual, sensitive), entity, lang, names
                ),
            )
        )  # fmt: skip
    return PolicyTestOut(
        policy.id, policy.audience, as_of, subject, explanation.status,
        t[explanation.status] if explanation.status != "not_eligible" else t["not_eligible"],
        benefit, policy.benefit_period, clauses, list(explanation.unknown_fields),
        [s.to_dict() for s in explanation.settle],
    )  # fmt: skip


POLICY_TEST_ROUTES = [policy_test_panel]
