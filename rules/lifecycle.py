"""The lifecycle of a policy version: who may move it where.

>>> next_status("draft", "submit")
'in_review'
>>> try:
...     check_reviewer(author="li", reviewer="li")
... except LifecycleError as err:
...     print(str(err).split(";")[0])
li wrote this version and cannot also approve it
"""

from __future__ import annotations

from typing import Final

from core.errors import ZhidaError

__all__ = ["STATUSES", "TRANSITIONS", "LifecycleError", "check_reviewer", "next_status"]

STATUSES: Final = ("draft", "in_review", "published", "retired")
TRANSITIONS: Final = {
    ("draft", "submit"): "in_review",
    ("in_review", "reject"): "draft",
    ("in_review", "publish"): "published",
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
