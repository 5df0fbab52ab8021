"""The algorithm published (算法公示): the ranking's card as a public console page.

Anyone may read it, logged in or not: what ranking is for, the inputs the model in use reads and
never reads, how a resident switches it off, and the model's version, training time, metrics
and fairness figures.  It is :func:`matcher.ranking.card.card_for` over the server's model
registry — the call the push planner orders by — read afresh on every request, so the page
cannot drift from the model in use (``zhida rank card`` prints the same card).
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Response, get

from api.app.pages import render, user_or_none
from api.app.services import services
from core.settings import get_settings
from profiles.schema import load_schema

__all__ = ["ALGORITHM_ROUTES"]


@get("/console/algorithm", include_in_schema=False)
async def algorithm_page(request: Request[Any, Any, Any]) -> Response[Any]:
    return await to_thread.run_sync(_algorithm_page, request)


def _algorithm_page(request: Request[Any, Any, Any]) -> Response[Any]:
    from matcher.ranking import ModelRegistry, card_for  # scikit-learn: not at start-up

    svc = services(request)
    card = card_for(
        ModelRegistry(svc.data_dir / "models"), load_schema(),
        personalised=get_settings().personalised,
    )  # fmt: skip
    return render(request, "algorithm.html", user=user_or_none(request), card=card)


ALGORITHM_ROUTES = [algorithm_page]
