"""A library of parameters: found by English or Chinese name, a value chosen by date, reformed.

>>> from datetime import date
>>> from rules.parameters._model import Version
>>> p = Parameter("dibao_standard", "低保标准", "CNY/month", "",
...               (Version(date(2024, 7, 1), None, Decimal(1450)),))
>>> library = Library((p,))
>>> library.get("低保标准") is library.get("dibao_standard") is p
True
>>> library.amount("dibao_standard", date(2026, 1, 1))
Decimal('1450')
>>> reform = library.with_override("dibao_standard=1500", on=date(2026, 1, 1))
>>> reform.amount("低保标准", date(2026, 1, 1)), reform.amount("低保标准", date(2025, 1, 1))
(Decimal('1500'), Decimal('1450'))
>>> try:
...     library.resolve("dibao_standart")
... except UnknownParameterError as err:
...     print(str(err).split("?")[0])
unknown parameter 'dibao_standart'; did you mean 'dibao_standard' (低保标准)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cached_property

from core.errors import NotFoundError, ValidationError
from rules.parameters._model import Bracket, Citation, Parameter, Version
from rules.suggest import nearest

__all__ = ["Library", "NotInForceError", "UnknownParameterError"]


class UnknownParameterError(NotFoundError):
    """No parameter has that name."""


class NotInForceError(ValidationError):
    """A parameter has no value in force on the date a rule is evaluated."""


_OVERRIDE = re.compile(
    r"^\s*(?P<name>[^=\[\]\s]+)\s*(?:\[\s*(?P<key>[^\]]+?)\s*\])?\s*=\s*(?P<amount>\S+)\s*$"
)


@dataclass(frozen=True)
class Library:
    """The parameters rules may read (one file each, usually ``rules/parameters/library``)."""

    parameters: tuple[Parameter, ...]

    @cached_property
    def _names(self) -> dict[str, Parameter]:
        names = {p.name_zh: p for p in self.parameters}
        names.update({p.name: p for p in self.parameters})
        return names

    def get(self, name: str) -> Parameter | None:
        """The parameter of an English or Chinese ``name``, or None."""
        return self._names.get(name)

    def nearest(self, name: str) -> Parameter | None:
        """The parameter whose name is closest to a misspelt ``name``."""
        ascii_names = name.isascii()
        found = nearest(name, (p.name if ascii_names else p.name_zh for p in self.parameters))
        if found is None:  # a part of a name: "dibao" for dibao_standard
            found = next((n for n in self._names if name and name in n), None)
        return self._names.get(found) if found else None

    def resolve(self, name: str) -> Parameter:
        """The parameter of ``name``; an unknown name is an error naming the nearest one."""
        found = self.get(name)
        if found is not None:
            return found
        near = self.nearest(name)
        hint = f"did you mean {near.name!r} ({near.name_zh})? " if near else ""
        raise UnknownParameterError(
            f"unknown parameter {name!r}; {hint}`zhida parameters list` shows them all"
        )

    def version(self, name: str, on: date) -> Version:
        """The version of ``name`` in force on ``on``; none in force is an error."""
        parameter = self.resolve(name)
        version = parameter.in_force(on)
        if version is None:
            spans = ", ".join(f"{v.start}–{v.end or '…'}" for v in parameter.versions)
            raise NotInForceError(
                f"parameter {parameter.name} ({parameter.name_zh}) has no value in force on "
                f"{on} (its values cover {spans}); add a value for that date to "
                f"{parameter.file} or match on a date it covers"
            )
        return version

    def amount(self, name: str, on: date) -> Decimal:
        """The amount of an ``amount`` parameter in force on ``on``."""
        version = self.version(name, on)
        assert version.amount is not None, f"{name} is a {self.resolve(name).kind}"
        return version.amount

    def used(self, names: Iterable[str], on: date) -> dict[str, str]:
        """Parameter name → the version (its first day) in force on ``on``: what a run used."""
        out: dict[str, str] = {}
        for name in sorted(set(names)):
            parameter = self.resolve(name)
            version = parameter.in_force(on)
            out[parameter.name] = version.label() if version else "none"
        return out

    @cached_property
    def content_hash(self) -> str:
        """A hash of every name, date and value: two libraries with one hash decide alike."""
        rows = [
            [p.name, p.kind, [[str(v.start), str(v.end), v.shown()] for v in p.versions]]
            for p in sorted(self.parameters, key=lambda p: p.name)
        ]
        return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()

    def replaced(self, parameter: Parameter) -> Library:
        return Library(tuple(parameter if p.name == parameter.name else p for p in self.parameters))

    def with_overrides(self, texts: Iterable[str], *, on: date) -> Library:
        """This library with each of ``texts`` (see :meth:`with_override`) in force from ``on``."""
        library = self
        for text in texts:
            library = library.with_override(text, on=on)
        return library

    def with_override(self, text: str, *, on: date) -> Library:
        """This library with ``name=amount`` (or ``name[key]=amount`` for one bracket of a
        scale or category) in force from ``on``: a reform to simulate.
        """
        match = _OVERRIDE.match(text)
        if match is None:
            raise ValidationError(
                f"cannot read the parameter change {text!r}; write name=amount, e.g. "
                "dibao_standard=1500, or name[key]=amount for one bracket, e.g. "
                "elderly_allowance[90]=600"
            )
        parameter = self.resolve(match["name"])
        try:
            amount = Decimal(match["amount"].replace(",", ""))
        except InvalidOperation:
            raise ValidationError(
                f"{text!r}: {match['amount']!r} is not a number; write e.g. {parameter.name}=1500"
            ) from None
        base = self.version(parameter.name, on)
        source = Citation(modelled=f"reform simulated: {text.strip()}")
        key = match["key"]
        if parameter.kind == "amount":
            if key is not None:
                raise ValidationError(
                    f"{parameter.name} is a single amount, not a scale; write "
                    f"{parameter.name}={amount}"
                )
            changed = Version(on, None, amount, source=source)
        else:
            if key is None:
                raise ValidationError(
                    f"{parameter.name} is a {parameter.kind}; change one bracket: "
                    f"{parameter.name}[{_first_key(base)}]={amount}"
                )
            changed = Version(on, None, brackets=_with_bracket(base, key, amount, parameter.name),
                              source=source)  # fmt: skip
        return self.replaced(parameter.reformed(changed))


def _first_key(version: Version) -> str:
    b = version.brackets[0]
    return b.key if b.key is not None else format(b.threshold, "f")


def _with_bracket(version: Version, key: str, amount: Decimal, name: str) -> tuple[Bracket, ...]:
    out = []
    found = False
    for b in version.brackets:
        if b.key is not None:
            same = b.key == key
        else:
            try:
                same = b.threshold == Decimal(key)
            except InvalidOperation:
                same = False
        found = found or same
        out.append(replace(b, amount=amount) if same else b)
    if not found:
        keys = ", ".join(_first_key(replace(version, brackets=(b,))) for b in version.brackets)
        raise ValidationError(f"{name} has no bracket {key!r}; its brackets are {keys}")
    return tuple(out)
