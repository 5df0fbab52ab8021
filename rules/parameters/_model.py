"""Parameters (参数): named amounts with dated, cited values — the values rules read by name.

A parameter is one of three shapes: an ``amount`` (低保标准 1,450 CNY a month), a ``scale`` of
brackets on a number (高龄津贴: 100 from age 80, 500 from 90, 800 from 100; below the first
threshold it is 0) or ``categories`` keyed by a string (困难老年人养老服务补贴: 低保 300, 低收入
200; a key not listed is 0).  Each value is in force from one date until another (or open-ended)
and carries its source: the document, its issuing body, date and address, or ``modelled`` with
the reason.  Like OpenFisca's parameters, the value a rule reads is the one in force on the
match's as-of date.

>>> from datetime import date
>>> cited = Citation(document="京民社救发〔2024〕80号", issuer="北京市民政局")
>>> old = Version(date(2023, 7, 1), date(2024, 6, 30), Decimal(1395), source=cited)
>>> new = Version(date(2024, 7, 1), None, Decimal(1450), source=cited)
>>> p = Parameter("dibao_standard", "低保标准", "CNY/month", "低保标准", (old, new))
>>> p.in_force(date(2024, 6, 30)).amount, p.in_force(date(2026, 1, 1)).amount
(Decimal('1395'), Decimal('1450'))
>>> p.in_force(date(2020, 1, 1)) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Final, Literal

__all__ = [
    "KINDS",
    "UNITS",
    "Bracket",
    "Citation",
    "Kind",
    "Parameter",
    "Version",
]

Kind = Literal["amount", "scale", "categories"]
KINDS: Final = ("amount", "scale", "categories")

# The units a parameter may be in (a unit not listed is refused, so a typo cannot pass).
UNITS: Final = {
    "CNY": "元",
    "CNY/month": "元/月",
    "CNY/year": "元/年",
    "CNY/day": "元/日",
    "ratio": "比例（0–1）",
    "multiple": "倍",
    "years": "岁/年",
    "months": "月",
    "persons": "人",
}


@dataclass(frozen=True)
class Citation:
    """Where a value comes from: a document (文号), its issuing body, date and address;
    or ``modelled`` with the reason the value is not (yet) cited."""

    document: str | None = None
    issuer: str | None = None
    issued: date | None = None
    url: str | None = None
    title: str | None = None
    modelled: str | None = None  # the reason, when the value is modelled

    @property
    def is_modelled(self) -> bool:
        return self.modelled is not None

    def describe(self) -> str:
        """One line for people.

        >>> Citation(document="京民社救发〔2024〕80号", issuer="北京市民政局").describe()
        '京民社救发〔2024〕80号, 北京市民政局'
        >>> Citation(modelled="no published figure").describe()
        'modelled: no published figure'
        """
        if self.modelled is not None:
            return f"modelled: {self.modelled}"
        parts = [self.title, self.document, self.issuer]
        parts += [self.issued.isoformat() if self.issued else None, self.url]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Bracket:
    """From ``threshold`` (a number, for a scale) or for ``key`` (categories): ``amount``."""

    amount: Decimal
    threshold: Decimal | None = None
    key: str | None = None


@dataclass(frozen=True)
class Version:
    """One value in force from ``start`` to ``end`` (inclusive; None: open-ended)."""

    start: date
    end: date | None
    amount: Decimal | None = None  # an amount parameter's value
    brackets: tuple[Bracket, ...] = ()  # a scale's (by threshold) or categories' (by key)
    source: Citation = field(default_factory=Citation)
    line: int = 0  # where the value starts in its file

    def covers(self, on: date) -> bool:
        return self.start <= on and (self.end is None or on <= self.end)

    def label(self) -> str:
        """The version's name in a run's record: its first day.

        >>> Version(date(2024, 7, 1), None, Decimal(1450)).label()
        '2024-07-01'
        """
        return self.start.isoformat()

    def shown(self) -> str:
        """The value for people: an amount, or each bracket.

        >>> Version(date(2024, 7, 1), None, Decimal(1450)).shown()
        '1450'
        >>> b = (Bracket(Decimal(100), threshold=Decimal(80)), Bracket(Decimal(500), Decimal(90)))
        >>> Version(date(2020, 1, 1), None, brackets=b).shown()
        '≥80: 100; ≥90: 500'
        """
        if self.amount is not None:
            return _plain(self.amount)
        return "; ".join(
            f"≥{_plain(b.threshold)}: {_plain(b.amount)}"
            if b.threshold is not None
            else f"{b.key}: {_plain(b.amount)}"
            for b in self.brackets
        )


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


@dataclass(frozen=True)
class Parameter:
    """A named parameter with its values over time, oldest first."""

    name: str
    name_zh: str
    unit: str
    description: str
    versions: tuple[Version, ...]
    kind: Kind = "amount"
    description_en: str = ""
    path: str = ""  # the file it was read from
    by: str | None = None  # a scale's or categories' usual index, a field (age, ...)

    @property
    def file(self) -> str:
        """Its file as a message names it: relative to the working directory when inside it."""
        from pathlib import Path

        path = Path(self.path)
        if path.is_absolute() and path.is_relative_to(Path.cwd()):
            return str(path.relative_to(Path.cwd()))
        return self.path or "its file"

    def in_force(self, on: date) -> Version | None:
        """The version in force on ``on``, or None."""
        for version in self.versions:
            if version.covers(on):
                return version
        return None

    def amounts(self) -> set[Decimal]:
        """Every amount any version holds (for the literal warning of ``policies validate``)."""
        found: set[Decimal] = set()
        for v in self.versions:
            if v.amount is not None:
                found.add(v.amount)
            found.update(b.amount for b in v.brackets)
        return found

    def reformed(self, version: Version) -> Parameter:
        """This parameter with ``version`` in force from its start on: older versions end the
        day before, later ones give way.  A reform's change to a parameter.

        >>> p = Parameter("x", "x", "CNY", "", (Version(date(2024, 7, 1), None, Decimal(1450)),))
        >>> r = p.reformed(Version(date(2026, 1, 1), None, Decimal(1500)))
        >>> [(v.start.isoformat(), v.end and v.end.isoformat(), v.shown()) for v in r.versions]
        [('2024-07-01', '2025-12-31', '1450'), ('2026-01-01', None, '1500')]
        """
        from datetime import timedelta

        kept = []
        for v in self.versions:
            if v.start >= version.start:
                continue
            if v.end is None or v.end >= version.start:
                kept.append(replace(v, end=version.start - timedelta(days=1)))
            else:
                kept.append(v)
        return replace(self, versions=(*kept, version))
