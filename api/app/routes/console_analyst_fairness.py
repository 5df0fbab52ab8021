"""The analyst page's fairness section: coverage and exposure in the top-k pushes, by group.

The figures are the latest run's, released by :func:`simulations.fairness_release.
private_fairness` — per subject, noisy, small groups withheld — once per run and kept; an
analyst receives them by an explicit request (the button), which charges their privacy budget
the first time (:data:`~simulations.fairness_release.fairness_epsilon`) and is audited with
the figures released.  ``zhida report fairness`` gives the exact figures to whoever holds the
data.
"""

from __future__ import annotations

from typing import Any

from api.app.auth import User
from api.app.errors import UnavailableError
from api.app.services import Services
from core.errors import NotFoundError, ZhidaError

__all__ = ["fairness_release", "fairness_section"]


def fairness_release(svc: Services, user: User, *, run: bool) -> dict[str, Any]:
    """The kept release for ``user`` (``run``: computing and charging it if need be)."""
    import polars as pl

    from core.settings import get_settings
    from matcher.population import scan_population
    from profiles.schema import load_schema
    from simulations.fairness_release import fairness_epsilon, private_fairness, ranked_offers

    if svc.population is None:
        raise UnavailableError(
            "fairness needs the population: start the server with `zhida serve --population DIR`"
        )
    latest = svc.runs.latest()
    if latest is None or not latest.pairs_file.is_file():
        raise NotFoundError("no match run yet: `zhida match ... --out FILE` records one")
    population, params = svc.population, svc.privacy.params

    def compute() -> dict[str, Any]:
        schema = load_schema()
        pairs = pl.read_parquet(latest.pairs_file)
        policies = svc.policies.catalog(latest.as_of).in_force(latest.as_of)
        ranked, how = ranked_offers(
            pairs, policies, population, schema, as_of=latest.as_of,
            models=svc.data_dir / "models", personalised=get_settings().personalised,
        )  # fmt: skip
        figures = private_fairness(
            pairs, ranked, scan_population(population, schema), schema, as_of=latest.as_of,
            params=params,
        )  # fmt: skip
        return {"run_id": latest.run_id, "as_of": latest.as_of.isoformat(), "how": how,
                **figures}  # fmt: skip

    key = f"fairness:{latest.run_id}:{params.fingerprint}"
    figures, _ = svc.privacy.answer(
        user.username, key, "fairness", fairness_epsilon(params), compute, run=run
    )
    return figures


def fairness_section(svc: Services, user: User) -> dict[str, Any]:
    """What the section shows: the figures this analyst has received, or what a request costs."""
    from simulations.budget import NotRunError
    from simulations.fairness_release import fairness_epsilon

    shown: dict[str, Any] = {"epsilon": fairness_epsilon(svc.privacy.params), "figures": None}
    try:
        shown["figures"] = fairness_release(svc, user, run=False)
    except NotRunError:
        shown["left"] = round(svc.privacy.spent(user.username).left, 3)
    except ZhidaError as err:
        shown["problem"] = err.message
    return shown
