"""A reform to simulate: the published catalog with drafts in place and policies retired.

A reform is a catalog compared with a baseline (:mod:`simulations.reach`).  Through the API an
analyst sends draft documents (each replacing the published policy of its id, or adding one)
and published ids to retire; on the console one draft replaces its published version.  The
drafts are checked here, every problem at once, before anything runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from core.errors import NotFoundError, ValidationError
from rules.errors import PositionedRuleError
from rules.loader import Catalog, CatalogError, load_policy_text
from rules.policy import Policy
from simulations.preview import Published

__all__ = ["reform_of", "with_draft"]


def reform_of(
    published: Published, documents: Sequence[str], retire: Sequence[str]
) -> tuple[Catalog, Catalog]:
    """(baseline, reform) catalogs: the published one, and it with ``documents`` and ``retire``.

    Documents that do not load raise one :class:`~rules.loader.CatalogError` with every
    problem; two drafts of one id, an unknown id to retire, or no change at all are refused.
    """
    drafts: list[Policy] = []
    problems: list[PositionedRuleError] = []
    for n, text in enumerate(documents, start=1):
        try:
            drafts.append(load_policy_text(text, Path(f"<document {n}>")))
        except CatalogError as err:
            problems.extend(err.problems)
    if problems:
        raise CatalogError(problems)
    ids = [d.id for d in drafts]
    if len(set(ids)) != len(ids):
        raise ValidationError("two documents have the same policy id; send one per policy")
    unknown = sorted(set(retire) - set(published.catalog.by_id))
    if unknown:
        raise NotFoundError(
            f"no published policy {', '.join(unknown)} to retire; GET /api/v1/policies lists them"
        )
    if not drafts and not retire:
        raise ValidationError(
            "a reach simulation needs a change: give draft documents and/or policy ids to retire"
        )
    replaced = set(ids) | set(retire)
    kept = tuple(p for p in published.catalog.policies if p.id not in replaced)
    return published.catalog, Catalog((*kept, *drafts), {}, {})


def with_draft(baseline: Catalog, draft: Policy, document: str) -> Catalog:
    """``baseline`` with ``draft`` in place of the policy of its id (or added), its text kept."""
    others = tuple(p for p in baseline.policies if p.id != draft.id)
    return replace(
        baseline, policies=(*others, draft), texts={**baseline.texts, draft.id: document}
    )
