"""How large a rule may be: refused before it is parsed, so no rule can stall or crash a reader.

rule-engine's parser, the type checker, the compiler and the explainer all walk the expression
recursively; an ``or``-chain of 1,000 terms or 500 nested ``not`` exhausted Python's stack
(HTTP 500 RecursionError).  Every expression is therefore measured on its tokens first, in one
pass that does not recurse, against three limits:

- ``MAX_EXPRESSION_CHARS`` characters;
- ``MAX_TERMS`` terms: the fields and values the expression combines (a list ``[...]`` of plain
  values is one term, so a long ``or`` over values is best written ``field in [...]``);
- ``MAX_NESTING`` levels of nesting: open brackets plus the ``not`` and ``-`` still open
  (``not (not x)`` nests three deep).

Together they bound the depth of the expression tree (every operator joining two parts needs
a term more), far below the stack's limit.  The largest catalog rule has 10 terms and 2 levels.

>>> from profiles.schema import load_schema
>>> from rules.source import Source
>>> resident = load_schema().resident
>>> check_size(Source.of("age >= 80 and not (is_veteran or monthly_income < 3000)", resident))
>>> try:
...     check_size(Source.of(" or ".join(f"age == {i}" for i in range(300)), resident))
... except RuleSyntaxError as err:
...     print(err.line, err.col, err.detail.split(";")[0])
1 1291 the expression has more than 200 terms (fields and values)
"""

from __future__ import annotations

from rules.errors import RuleSyntaxError
from rules.source import Source, Token

__all__ = ["MAX_EXPRESSION_CHARS", "MAX_NESTING", "MAX_TERMS", "check_length", "check_size"]

MAX_EXPRESSION_CHARS = 10_000
MAX_TERMS = 200
MAX_NESTING = 32

_OPENING = {"(": ")", "[": "]", "{": "}"}
_CLOSING = frozenset(_OPENING.values())
_OPERANDS = frozenset(("symbol", "string", "number"))
_LOGIC = frozenset(("and", "or", "not", "in", "if", "for"))
# after these, a - or + is a sign (unary), not subtraction
_BEFORE_SIGN = frozenset(("(", "[", "{", ",", "?", ":", "and", "or", "not", "in"))


def check_length(text: str) -> None:
    """Refuse an expression longer than ``MAX_EXPRESSION_CHARS`` (before tokenising it)."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise RuleSyntaxError(
            f"the expression is {len(text):,} characters long; the limit is "
            f"{MAX_EXPRESSION_CHARS:,}: split the policy, or write long lists of values as "
            "field in [...]"
        )


def _is_operand(token: Token) -> bool:
    return token.kind in _OPERANDS or (token.kind == "keyword" and token.text not in _LOGIC)


def _is_prefix(token: Token, previous: Token | None) -> bool:
    if token.text == "not":
        return True
    if token.text in ("-", "+") and token.kind == "op":
        if previous is None or previous.text in _BEFORE_SIGN:
            return True
        return previous.kind == "op" and previous.text not in _CLOSING
    return False


def check_size(source: Source) -> None:
    """Refuse ``source`` beyond ``MAX_TERMS`` terms or ``MAX_NESTING`` levels, where it crosses.

    In a list, each value is free but each operator joining two parts counts as a term
    (``[1 + 1]`` is two), so nothing inside brackets escapes the count.
    """
    terms = 0
    brackets: list[tuple[str, int]] = []  # open brackets, each with the prefixes before it
    lists = 0  # how many of the open brackets are lists
    prefixes = 0  # not / - written one after another just here, not yet closed
    previous: Token | None = None
    for token in source.tokens:
        prefix = _is_prefix(token, previous)
        if token.text in _OPENING and token.kind == "op":
            brackets.append((token.text, prefixes))
            prefixes = 0
            if token.text == "[":
                lists += 1
                terms += lists == 1
        elif token.text in _CLOSING and token.kind == "op":
            prefixes = 0
            if brackets and brackets.pop()[0] == "[":
                lists -= 1
        elif prefix:
            prefixes += 1
        else:
            prefixes = 0
        if lists:
            if token.kind == "op" and not prefix and token.text not in "[](){},":
                terms += 1
        elif _is_operand(token):
            terms += 1
        if terms > MAX_TERMS:
            line, col = source.position(token.start)
            raise RuleSyntaxError(
                f"the expression has more than {MAX_TERMS} terms (fields and values); the limit "
                f"is {MAX_TERMS}: write a long chain of 'or's over one field's values as "
                "field in [...], or split the policy",
                line=line,
                col=col,
            )
        depth = len(brackets) + sum(p for _, p in brackets) + prefixes
        if depth > MAX_NESTING:
            line, col = source.position(token.start)
            raise RuleSyntaxError(
                f"the expression nests more than {MAX_NESTING} levels deep (brackets, and 'not' "
                f"or '-' one after another); the limit is {MAX_NESTING}: simplify it",
                line=line,
                col=col,
            )
        previous = token
