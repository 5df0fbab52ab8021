"""Regular expressions in rules (``=~``, ``=~~``, ``!~``, ``!~~``) run in time linear in the text.

A backtracking engine (Python's ``re``) takes time exponential in the text's length on patterns
such as ``(a+)+$``: one subject named ``aaaaaaaaaaaaaaaaaaaaaaaa!`` stalled the server for
seconds.  Every evaluator of a rule therefore uses an automaton engine: the compiler hands the
pattern to polars (Rust's ``regex`` crate), and the per-subject paths (evaluator, explainer,
event-driven matching, the test panel) use RE2 through :func:`matches`.

The two engines must agree, so a pattern is accepted (:func:`pattern_problem`) only if both
compile it, and RE2 sees it with the Unicode meaning Rust gives the Perl classes: ``\\d`` is any
decimal digit (全角 ``１`` too), ``\\s`` any Unicode space, ``\\w`` any letter, mark, digit or
connector — RE2 alone would read them as ASCII.  Word boundaries (``\\b``, ``\\B``) have no
Unicode form in RE2 and are refused, as are back-references and look-around, which no
linear-time engine can run.

>>> matches("北京", "北京市", anchored=True), matches(r"\\d{3}$", "编号１２３", anchored=False)
(True, True)
>>> matches("(a+)+$", "a" * 40 + "!", anchored=True)
False
>>> pattern_problem(r"(\\w)\\1").split(" need ")[0], pattern_problem("(a+)+$")
('back-references (\\\\1)', None)
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import polars as pl

__all__ = ["matches", "pattern_problem", "re2_pattern"]

# Rust's Unicode Perl classes (regex-syntax), spelt with what RE2 knows; equal to Rust's on
# every character of Unicode 14 (checked over all code points; newer ones may differ).
_DIGIT = r"\p{Nd}"
_SPACE = r"\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
_WORD = (
    r"\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}\x{200C}\x{200D}"
    r"\x{24B6}-\x{24E9}\x{1F130}-\x{1F149}\x{1F150}-\x{1F169}\x{1F170}-\x{1F189}"
)
_CLASSES = {"d": _DIGIT, "s": _SPACE, "w": _WORD}

_BACKTRACKING = (
    ("(?=", "look-around ((?=…), (?!…), (?<=…), (?<!…))"),
    ("(?!", "look-around ((?=…), (?!…), (?<=…), (?<!…))"),
    ("(?<=", "look-around ((?=…), (?!…), (?<=…), (?<!…))"),
    ("(?<!", "look-around ((?=…), (?!…), (?<=…), (?<!…))"),
    ("(?>", "atomic groups ((?>…))"),
    ("(?P=", "back-references ((?P=name))"),
    *((q, "possessive quantifiers (*+, ++, ?+, {n}+)") for q in ("*+", "++", "?+", "}+")),
)


class _RefusedError(ValueError):
    pass


def re2_pattern(pattern: str) -> str:
    """``pattern`` with the Perl classes spelt out as Rust reads them, for RE2.

    >>> re2_pattern(r"[\\d_]+") == "[" + _DIGIT + "_]+"
    True
    >>> re2_pattern(r"\\D") == "[^" + _DIGIT + "]"
    True
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            i += 2
            if nxt in "bB":
                raise _RefusedError(
                    f"word boundaries (\\{nxt}) are not supported (Chinese text has no "
                    "spaces between words); use ^, $ or the characters around the word"
                )
            if nxt.isdigit() and nxt != "0":
                raise _RefusedError(
                    f"back-references (\\{nxt}) need a backtracking engine, whose time can grow "
                    "exponentially with the text and stall the service; rewrite the pattern "
                    "without them"
                )
            body = _CLASSES.get(nxt.lower())
            if body is not None and in_class and out and out[-1] == "-":
                raise _RefusedError(f"a range in [...] cannot end at \\{nxt}; list it apart")
            if body is None:
                out.append(char + nxt)
            elif nxt.islower():
                out.append(body if in_class else f"[{body}]")
            elif in_class:
                raise _RefusedError(
                    f"\\{nxt} inside [...] is not supported; write it outside the brackets, "
                    f"e.g. (?:[...]|\\{nxt})"
                )
            else:
                out.append(f"[^{body}]")
            continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            i += 1
            # a ] right after [ or [^ is a literal ]
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):
                out.append("]")
                i += 1
            continue
        if char == "]" and in_class:
            in_class = False
        if in_class and char == "[" and pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)  # a POSIX class, [:alpha:]: ASCII in both engines
            if end != -1:
                out.append(pattern[i : end + 2])
                i = end + 2
                continue
        if in_class and (char == "[" or pattern.startswith(("&&", "--", "~~"), i)):
            raise _RefusedError(
                f"{pattern[i : i + 2] if char != '[' else '['} inside [...] reads differently "
                "in the two engines (nested classes, set operations); escape it (\\[, \\-, "
                "\\&) or write the class out"
            )
        out.append(char)
        i += 1
    return "".join(out)


@cache
def _re2() -> Any:
    """google-re2, imported on first use: 50 ms of every command's start-up otherwise."""
    import re2  # type: ignore[import-untyped]  # google-re2 ships no type hints

    return re2


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    options = _re2().Options()
    options.log_errors = False  # RE2 would write each refusal to stderr
    return _re2().compile(re2_pattern(pattern), options)


@lru_cache(maxsize=1024)
def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used in a rule, or None when both engines run it alike."""
    re2 = _re2()
    try:
        _compiled(pattern)
    except _RefusedError as refused:
        return str(refused)
    except re2.error as exc:
        for construct, name in _BACKTRACKING:  # RE2 refuses them; say why, not just "invalid"
            if construct in pattern:
                return (
                    f"{name} need a backtracking engine, whose time can grow exponentially "
                    "with the text and stall the service; rewrite the pattern without them"
                )
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        return f"not a regular expression the rule engine can run ({detail})"
    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except pl.exceptions.PolarsError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip().startswith("error:")]
        detail = lines[0].removeprefix("error:").strip() if lines else str(exc).splitlines()[0]
        return f"not a regular expression the rule engine can run ({detail})"
    return None


def matches(pattern: str, text: str, *, anchored: bool) -> bool:
    """Whether ``pattern`` matches ``text``: at its start (``=~``) or anywhere (``=~~``)."""
    regex = _compiled(pattern)
    found = regex.match(text) if anchored else regex.search(text)
    return found is not None
