"""The lifecycle of a policy version: who may move it where.

>>> next_status("draft", "submit")
'in_review'
>>> next_status("published", "supersede")  # v3 published: v2 is kept as history
'superseded'
>>> try:
...     check_reason("  ")
... except ValidationError as err:
...     print(str(err).split(":")[0])
退回修改需要写明原因 (a return needs a reason)
>>> try:
...     check_reviewer(author="li", reviewer="li")
... except LifecycleError as err:
...     print(str(err).split(";")[0])
li wrote this version and cannot also approve it
"""

from __future__ import annotations

from typing import Final

from core.errors import ValidationError, ZhidaError

__all__ = [
    "STATUSES",
    "TRANSITIONS",
    "LifecycleError",
    "check_reason",
    "check_reviewer",
    "next_status",
]

STATUSES: Final = ("draft", "in_review", "published", "superseded", "retired")
# One version of a policy is published at a time: publishing a newer one supersedes it (kept as
# history, and in force on the days the newer one is not yet valid).
TRANSITIONS: Final = {
    ("draft", "submit"): "in_review",
    ("in_review", "reject"): "draft",
    ("in_review", "publish"): "published",
    ("published", "supersede"): "superseded",
    ("published", "retire"): "retired",
}


class LifecycleError(ZhidaError, ValueError):
    """A transition that the lifecycle does not allow."""

    http_status = 409


def next_status(status: str, action: str) -> str:
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        allowed = [a for (s, a) in TRANSITIONS if s == status]
        raise LifecycleError(
            f"cannot {action} a version that is {status}; allowed: {', '.join(allowed) or 'none'}"
        ) from None


def check_reviewer(*, author: str, reviewer: str) -> None:
    if author == reviewer:
        raise LifecycleError(
            f"{author} wrote this version and cannot also approve it; another reviewer must "
            "publish it (four eyes)"
        )


def check_reason(reason: str | None) -> str:
    """A return to the author (退回修改) says why: the author sees it on the draft."""
    text = (reason or "").strip()
    if not text:
        raise ValidationError(
            '退回修改需要写明原因 (a return needs a reason): send {"reason": "..."} saying '
            "what the author should change; the author sees it on the draft"
        )
    return text
