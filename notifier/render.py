"""Render a ledger row's items into a message: Jinja2 templates per language, purpose and channel.

:func:`render` is pure: the items (as the planner stores them in the outbox payload), the
channel and the language in; a :class:`Rendered` title and body out.  Templates live in
``notifier/templates/<locale>/<purpose>.<kind>.j2`` (see the README there) and run with
``StrictUndefined``: a template mistake is a :class:`TemplateRenderError`, a permanent delivery
failure that names the template and what was missing.

SMS is held to ``max_segments`` segments (GSM-7: 160 characters alone, 153 per part when
concatenated; UCS-2, i.e. any Chinese: 70 and 67).  When the text is too long, the reason is
shortened (with an ellipsis) — never the link, and never below what the template needs.
What the templates see of an item is :mod:`notifier.message_items`; how an SMS is measured,
:mod:`notifier.sms_segments`.

>>> item = {"purpose": "grant_notice", "policy_id": "bj-elderly", "title": "高龄老年人津贴",
...         "benefit": "100", "benefit_period": "month", "reason": ["age >= 80 ✓"],
...         "start_date": "2026-03-01", "objection_until": "2026-03-31", "item_key": "ab12"}
>>> sms = render([item], channel="sms", locale="zh", base_url="https://zd.gov.cn")
>>> print(sms.body)
【直达】已为您办理高龄老年人津贴（每月 100 元），依据：年龄 不低于 80 ✓。如有异议请于2026-03-31前反馈：https://zd.gov.cn/m/ab12
>>> sms.segments
2
>>> print(render([item], channel="email", locale="en", base_url="https://zd.gov.cn").title)
Granted: 高龄老年人津贴
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import jinja2

from notifier.channels.base import OutboundMessage
from notifier.message_items import Item, TemplateRenderError
from notifier.sms_segments import sms_length

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = [
    "KINDS",
    "LOCALES",
    "PURPOSES",
    "Rendered",
    "render",
    "render_row",
]

TEMPLATES = Path(__file__).with_name("templates")
LOCALES = ("zh", "en")
PURPOSES = (
    "grant_notice",
    "revocation_notice",
    "invitation",
    "fast_track_invitation",
    "maybe_question",
    "digest",
)
KINDS = {"sms": "sms"}  # every other channel (email, inbox, webhook, memory) gets "text"
ELLIPSIS = "…"


@dataclass(frozen=True)
class Rendered:
    """A rendered message: title and body, and what a template message (webhook) sends."""

    title: str
    body: str
    template: str  # the template file, for error messages and audit
    segments: int | None = None  # SMS only
    template_id: str | None = None  # template messages (webhook): id + parameters
    params: Mapping[str, str] = field(default_factory=dict)


# --- rendering --------------------------------------------------------------------------------


@cache
def _environment(directory: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text: SMS, e-mail text, inbox; the console escapes on display
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


@cache
def _field_labels(locale: str) -> Mapping[str, str]:
    from profiles.schema import load_schema

    schema = load_schema()
    labels: dict[str, str] = {}
    for entity in ("resident", "enterprise"):
        for f in schema.entity(entity).fields:
            labels.setdefault(f.name, f.en if locale == "en" else (f.name_zh or f.zh))
    return labels


def _run(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> tuple[str, str]:
    try:
        text = env.get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        raise TemplateRenderError(
            f"no template {exc.name!r} under notifier/templates; add it or use a known purpose "
            f"({', '.join(PURPOSES)}) and locale ({', '.join(LOCALES)})"
        ) from exc
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateRenderError(
            f"template {exc.filename or name} line {exc.lineno}: {exc.message}"
        ) from exc
    except jinja2.TemplateError as exc:
        raise TemplateRenderError(
            f"template {name} cannot render: {exc}; fix the template or the payload"
        ) from exc
    lines = text.strip("\n").split("\n")
    title = lines[0].strip()
    body = "\n".join(lines[1:]).strip("\n")
    if not title or not body:
        raise TemplateRenderError(
            f"template {name} rendered an empty {'title' if not title else 'body'}; its first "
            "line is the title, the rest the body"
        )
    return title, body


def _shortened(text: str, keep: int) -> str:
    return text if keep >= len(text) else text[: max(0, keep)].rstrip(" ，,；;") + ELLIPSIS


def render(
    items: Sequence[Mapping[str, Any]],
    *,
    channel: str,
    locale: str,
    base_url: str = "https://zhida.example.gov.cn",
    signature: str = "直达",
    subject_type: str = "resident",
    max_segments: int = 3,
    templates: Path = TEMPLATES,
    field_label: Mapping[str, str] | None = None,
) -> Rendered:
    """Render ``items`` (outbox payload items) for ``channel`` in ``locale``."""
    if locale not in LOCALES:
        raise TemplateRenderError(
            f"no templates for language {locale!r}; expected one of {', '.join(LOCALES)}"
        )
    if not items:
        raise TemplateRenderError("a message needs at least one item; the payload has none")
    labels = _field_labels(locale) if field_label is None else field_label
    # Clauses read in plain words of the message's language: 户籍城市 为 “北京市”, 有标签“新婚”.
    from profiles.schema import load_schema
    from rules.plain_words import plain_reason, tag_names

    entity = load_schema().entity(subject_type)

    def words(line: str) -> str:
        return plain_reason(line, entity, locale, tag_names() if "tags" in line else None)

    views = [
        Item.from_payload(
            i, locale=locale, base_url=base_url, field_label=labels, reason_words=words
        )
        for i in items
    ]
    purpose = views[0].purpose if len(views) == 1 else "digest"
    kind = KINDS.get(channel, "text")
    name = f"{locale}/{purpose}.{kind}.j2"
    context: dict[str, Any] = {
        "item": views[0],
        "items": views,
        "signature": signature,
        "inbox_url": f"{base_url}/inbox",
        "enterprise": subject_type == "enterprise",
    }
    env = _environment(templates)
    params = _params(views, purpose, locale)
    if kind != "sms":
        title, body = _run(env, name, context)
        return Rendered(title, body, name, template_id=f"zhida.{purpose}", params=params)

    sep = "; " if locale == "en" else "；"
    reason = sep.join(r for v in views for r in v.reason)
    title, body = _run(env, name, {**context, "reason": reason})
    if sms_length(body).segments > max_segments:
        # Longest prefix of the reason that fits: binary search on its length.
        low, high = 0, len(reason) - 1
        best: str | None = None
        while low <= high:
            mid = (low + high) // 2
            _, candidate = _run(env, name, {**context, "reason": _shortened(reason, mid)})
            if sms_length(candidate).segments <= max_segments:
                best, low = candidate, mid + 1
            else:
                high = mid - 1
        if best is None:
            raise TemplateRenderError(
                f"SMS from {name} needs {sms_length(body).segments} segments even with the "
                f"reason cut to nothing; the cap is {max_segments} — shorten the template or "
                "the policy title, or send it by another channel"
            )
        body = best
    return Rendered(
        title, body, name, sms_length(body).segments, template_id=f"zhida.{purpose}", params=params
    )


def _params(views: Sequence[Item], purpose: str, locale: str) -> dict[str, str]:
    """WeChat-style template parameters: a department system fills its own template."""
    first = views[0]
    sep = "；" if locale == "zh" else "; "
    params = {
        "purpose": purpose,
        "policy": sep.join(v.title for v in views),
        "policy_id": ",".join(v.policy_id for v in views),
        "reason": sep.join(r for v in views for r in v.reason),
        "link": first.link,
    }
    for key in ("benefit", "start_date", "objection_until", "end_date", "question"):
        value = getattr(first, key)
        if value and len(views) == 1:
            params[key] = str(value)
    return params


class _Row(Protocol):
    """What :func:`render_row` reads of an outbox row (``notifier.outbox.LedgerRow``)."""

    @property
    def id(self) -> int: ...
    @property
    def idempotency_key(self) -> str: ...
    @property
    def subject_id(self) -> str: ...
    @property
    def subject_type(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def address(self) -> str | None: ...
    @property
    def locale(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


def render_row(row: _Row, settings: Settings | None = None) -> OutboundMessage:
    """The worker's renderer: an outbox row to the message its channel sends.

    ``settings`` default to this process's; a worker binds its own once (reading the
    environment costs more than rendering a short message).
    """
    if settings is None:
        from core.settings import get_settings

        settings = get_settings()
    items = list(row.payload.get("items", []))
    done = render(
        items,
        channel=row.channel,
        locale=row.locale,
        base_url=settings.public_url,
        signature=settings.sms_signature,
        subject_type=row.subject_type,
        max_segments=settings.sms_max_segments,
    )
    return OutboundMessage(
        ledger_id=row.id,
        idempotency_key=row.idempotency_key,
        channel=row.channel,
        subject_id=row.subject_id,
        subject_type=row.subject_type,
        address=row.address,
        locale=row.locale,
        title=done.title,
        body=done.body,
        template_id=done.template_id,
        params=done.params,
        policy_ids=tuple(str(i.get("policy_id", "")) for i in items),
    )
