"""Errors of policies and rules, each carrying the position an officer can jump to.

Positions inside an expression are 1-based line and column *of the text the officer wrote*
(Chinese field names included).  The catalog loader maps them onto the YAML file, so a message
prints as ``path/to/policy.yaml:7:18: message``.

>>> err = RuleTypeError("expected a number, found a string", line=1, col=7)
>>> str(err)
'1:7: expected a number, found a string'
>>> str(err.located("catalog/a.yaml", line=5, col=14))
'catalog/a.yaml:5:20: expected a number, found a string'
"""

from __future__ import annotations

from core.errors import RuleError

__all__ = [
    "EvaluationTimeLimitError",
    "PolicyError",
    "PositionedRuleError",
    "RuleError",
    "RuleSyntaxError",
    "RuleTypeError",
]


class PositionedRuleError(RuleError):
    """A rule error at ``line``:``col`` of some text, optionally inside a file."""

    def __init__(
        self,
        message: str,
        *,
        line: int = 1,
        col: int = 1,
        path: str | None = None,
        policy_id: str | None = None,
    ) -> None:
        self.detail = message
        self.line = line
        self.col = col
        self.path = path
        self.policy_id = policy_id
        super().__init__(self._render())

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
            self.detail, line=new_line, col=new_col, path=path, policy_id=self.policy_id
        )


class RuleSyntaxError(PositionedRuleError, ValueError):
    """The expression does not parse."""


class RuleTypeError(PositionedRuleError, TypeError):
    """The expression parses but does not fit the schema (unknown field, wrong type, ...)."""


class PolicyError(PositionedRuleError, ValueError):
    """A policy document is malformed (missing key, bad mode, bad dates, duplicate id, ...)."""


class EvaluationTimeLimitError(RuleError):
    """Evaluating or explaining a rule for one subject took longer than its time limit."""
