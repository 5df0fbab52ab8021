"""The officer's text: tokens with positions, and Chinese field names mapped to schema names.

rule-engine symbols are ASCII, so ``年龄 >= 80`` is rewritten to ``age >= 80`` before parsing;
:class:`Source` keeps the map from every offset of the rewritten text back to the officer's, so
errors and explanations point into what the officer wrote.

>>> from profiles.schema import load_schema
>>> src = Source.of('年龄 >= 80 and hukou_city == "北京市"', load_schema().resident)
>>> src.text
'age >= 80 and hukou_city == "北京市"'
>>> src.position(src.text.index("80"))
(1, 7)
>>> [t.text for t in src.tokens if t.kind == "symbol"]
['age', 'hukou_city']
>>> src.snippet(0, len("age >= 80"))
'年龄 >= 80'

"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from profiles.schema import Entity
from rules.parameters import parameter_symbol

__all__ = ["Source", "Token"]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>[dtbr]?(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'))
  | (?P<number>0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+
        |(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)
  | (?P<parameter>(?:parameters|参数)\s*\.\s*[A-Za-z_\u3400-\u9fff][A-Za-z0-9_\u3400-\u9fff]*)
  | (?P<symbol>\$?[A-Za-z_\u3400-\u9fff][A-Za-z0-9_\u3400-\u9fff]*)
  | (?P<op>=~~|!~~|=~|!~|==|!=|<=|>=|//|\*\*|&&|\|\||[-+*/%<>()\[\]{},:?!&|^~.=])
  | (?P<other>.)
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset(("and", "or", "not", "in", "if", "for", "true", "false", "null"))


@dataclass(frozen=True)
class Token:
    kind: str  # symbol | keyword | string | number | op | other
    text: str  # as in the rewritten text (schema names)
    start: int  # offset in the rewritten text
    end: int


@dataclass(frozen=True)
class Source:
    """An expression as the officer wrote it and as rule-engine will read it."""

    original: str
    text: str
    tokens: tuple[Token, ...]
    offsets: tuple[int, ...]  # offsets[i]: offset in `original` of text[i]; one past the end too
    ends: tuple[int, ...]  # ends[i]: offset in `original` just past the character text[i] came from

    @classmethod
    def of(cls, original: str, entity: Entity, words: Mapping[str, str] | None = None) -> Source:
        """Tokens of ``original`` with ``entity``'s Chinese field names, then ``words`` (the
        group vocabulary: 家庭, 成员数, a household's or an employment's fields), rewritten."""
        pieces: list[str] = []
        offsets: list[int] = []
        ends: list[int] = []
        tokens: list[Token] = []
        length = 0
        for match in _TOKEN.finditer(original):
            kind = match.lastgroup or "other"
            raw = match.group()
            if kind == "space":
                piece = raw
            elif kind == "comment":
                piece = " " * len(raw)
            elif kind == "parameter":  # parameters.x / 参数.x: one symbol (rules.parameters)
                piece, kind = parameter_symbol(raw), "symbol"
            elif kind == "symbol":
                field = entity.by_name_zh.get(raw)
                piece = field.name if field is not None else (words or {}).get(raw, raw)
                if piece in _KEYWORDS:
                    kind = "keyword"
            else:
                piece = raw
            if kind not in ("space", "comment"):
                tokens.append(Token(kind, piece, length, length + len(piece)))
            pieces.append(piece)
            if piece == raw:
                offsets.extend(range(match.start(), match.end()))
                ends.extend(range(match.start() + 1, match.end() + 1))
            else:  # a Chinese name: every character maps to the whole name
                offsets.extend([match.start()] * len(piece))
                ends.extend([match.end()] * len(piece))
            length += len(piece)
        offsets.append(len(original))
        return cls(original, "".join(pieces), tuple(tokens), tuple(offsets), tuple(ends))

    def original_offset(self, offset: int) -> int:
        return self.offsets[min(max(offset, 0), len(self.offsets) - 1)]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) in the officer's text of ``offset`` in the rewritten text."""
        at = self.original_offset(offset)
        before = self.original[:at]
        line = before.count("\n") + 1
        col = at - (before.rfind("\n") + 1) + 1
        return line, col

    def snippet(self, start: int, end: int) -> str:
        """The officer's text between two offsets of the rewritten text."""
        if end <= start or not self.ends:
            return ""
        return self.original[self.original_offset(start) : self.ends[min(end, len(self.ends)) - 1]]
