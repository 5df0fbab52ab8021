"""Errors of policies and rules, each carrying the position an officer can jump to.

Positions inside an expression are 1-based line and column *of the text the officer wrote*
(Chinese field names included).  The catalog loader maps them onto the YAML file, so a message
prints as ``path/to/policy.yaml:7:18: message``.

>>> err = RuleTypeError("expected a number, found a string", line=1, col=7)
>>> str(err)
'1:7: expected a number, found a string'
>>> str(err.located("catalog/a.yaml", line=5, col=14))
'catalog/a.yaml:5:20: expected a number, found a string'

An error made from a message code (``rules.messages``) also reads in Chinese, the console's
default; its ``detail`` stays the English one.

>>> err = RuleTypeError.of("unknown_tag", {"tag": "育儿家庭", "hint": {"zh": "…", "en": "…"}})
>>> err.in_language("zh")
'标签库中没有标签 "育儿家庭"；…'
>>> err.relocated(key="eligibility", line=3, col=14, path="a.yaml").in_language("en")
'eligibility: unknown tag "育儿家庭"; …'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

from core.errors import RuleError
from rules.messages import render

__all__ = [
    "EvaluationTimeLimitError",
    "FormError",
    "PolicyError",
    "PositionedRuleError",
    "RuleCheckError",
    "RuleCheckWarning",
    "RuleError",
    "RuleSyntaxError",
    "RuleTypeError",
]


Severity = Literal["error", "warning"]


class PositionedRuleError(RuleError):
    """A rule error at ``line``:``col`` of some text, optionally inside a file.

    ``code`` and ``params`` (when given) name the message in ``rules.messages``, so it can be
    read in either language; ``key`` is the policy key the expression sits under.
    """

    severity: Severity = "error"

    def __init__(
        self,
        message: str,
        *,
        line: int = 1,
        col: int = 1,
        path: str | None = None,
        policy_id: str | None = None,
        code: str | None = None,
        params: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> None:
        self.detail = message
        self.line = line
        self.col = col
        self.path = path
        self.policy_id = policy_id
        self.code = code
        self.params: Mapping[str, Any] = params or {}
        self.key = key
        super().__init__(self._render())

    @classmethod
    def of(cls, code: str, params: Mapping[str, Any], *, line: int = 1, col: int = 1) -> Self:
        """The error of message ``code`` with ``params``, its detail in English."""
        return cls(render(code, params, "en"), line=line, col=col, code=code, params=params)

    def in_language(self, lang: str = "en") -> str:
        """The message in ``lang`` (zh or en), without the position."""
        body = render(self.code, self.params, lang) if self.code else self.detail
        if self.key is None or self.code is None:
            return body  # an uncoded detail already starts with its key
        return render("in_key", {"key": self.key, "message": body}, lang)

    def relocated(
        self, *, key: str, line: int, col: int, path: str | None, policy_id: str | None = None
    ) -> Self:
        """The same error under policy key ``key``, at ``line``:``col`` of ``path``."""
        return type(self)(
            f"{key}: {self.detail}", line=line, col=col, path=path, policy_id=policy_id,
            code=self.code, params=self.params, key=key,
        )  # fmt: skip

    def _render(self) -> str:
        where = f"{self.path}:" if self.path else ""
        return f"{where}{self.line}:{self.col}: {self.detail}"

    def located(self, path: str, *, line: int, col: int) -> PositionedRuleError:
        """The same error, moved into ``path`` where the expression starts at ``line``:``col``.

        ``line``/``col`` are where the first character of the expression sits in the file.
        """
        new_line = line + self.line - 1
        new_col = col + self.col - 1 if self.line == 1 else self.col
        return type(self)(
            self.detail, line=new_line, col=new_col, path=path, policy_id=self.policy_id,
            code=self.code, params=self.params, key=self.key,
        )  # fmt: skip


class RuleSyntaxError(PositionedRuleError, ValueError):
    """The expression does not parse."""


class RuleTypeError(PositionedRuleError, TypeError):
    """The expression parses but does not fit the schema (unknown field, wrong type, ...)."""


class RuleCheckError(PositionedRuleError, ValueError):
    """The expression is well typed but wrong: never true, an unreachable tier, ..."""


# A warning is carried beside the errors (never raised), so it shares their class tree.
class RuleCheckWarning(PositionedRuleError):  # noqa: N818
    """Something in a rule that is probably not meant (always true, overlapping tiers); it does
    not stop the policy, but validation shows it."""

    severity: Severity = "warning"


class PolicyError(PositionedRuleError, ValueError):
    """A policy document is malformed (missing key, bad mode, bad dates, duplicate id, ...)."""


class EvaluationTimeLimitError(RuleError):
    """Evaluating or explaining a rule for one subject took longer than its time limit."""


class FormError(RuleError):
    """The 政策要素 form cannot show a policy, or a form's content cannot be written as one:
    the message says which row or key, and what to do; ``zh`` says it in Chinese, ``section``
    names the part of the form it belongs beside (basics, conditions, application, amount).

    >>> FormError("row 1: a value is missing", zh="第 1 条：缺少取值").in_language("zh")
    '第 1 条：缺少取值'
    """

    def __init__(self, message: str, *, zh: str | None = None, section: str = "basics") -> None:
        super().__init__(message)
        self.zh = zh or message
        self.section = section

    def in_language(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.message
