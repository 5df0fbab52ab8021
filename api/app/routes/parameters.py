"""``GET /api/v1/parameters``: the parameter library (参数库), every value with its source.

Public metadata like the tag library: any role may read it.  Each parameter lists every value
it has had (oldest first) with its dates and either its document, issuing body, date and
address, or ``modelled`` with the reason; ``?on=YYYY-MM-DD`` adds the value in force that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from litestar import get
from litestar.params import FromQuery

from api.app.access import allow
from api.app.auth import ROLES

__all__ = ["PARAMETER_API_ROUTES", "ParameterOut", "ValueOut"]


@dataclass(frozen=True)
class ValueOut:
    start: date  # in force from (inclusive)
    end: date | None  # until (inclusive); null: open-ended
    value: str  # an amount ("1450"), or each bracket ("≥80: 100; ≥90: 500")
    document: str | None  # the legal source: document number (文号)
    issuer: str | None  # the body that issued it
    issued: date | None
    url: str | None
    modelled: str | None  # why the value is not cited, when it is modelled


@dataclass(frozen=True)
class ParameterOut:
    name: str  # what a rule writes after parameters.
    name_zh: str  # what a rule writes after 参数.
    unit: str
    kind: str  # amount | scale | categories
    description: str
    values: list[ValueOut]
    in_force: str | None = None  # the value on ?on=, when asked


@get("/api/v1/parameters", guards=[allow(*ROLES)], sync_to_thread=True, tags=["rules"])
def list_parameters(on: FromQuery[date | None] = None) -> list[ParameterOut]:
    """Every parameter rules may read, with each of its values and their sources."""
    from rules.parameters import active

    out = []
    for p in sorted(active().parameters, key=lambda p: p.name):
        version = p.in_force(on) if on is not None else None
        values = [
            ValueOut(
                v.start, v.end, v.shown(), v.source.document, v.source.issuer,
                v.source.issued, v.source.url, v.source.modelled,
            )
            for v in p.versions
        ]  # fmt: skip
        shown = version.shown() if version is not None else None
        out.append(ParameterOut(p.name, p.name_zh, p.unit, p.kind, p.description, values, shown))
    return out


PARAMETER_API_ROUTES = [list_parameters]
