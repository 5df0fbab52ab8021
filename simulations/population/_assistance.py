"""Social assistance decided per household, as Beijing decides it: from the household's income
per member and its declared assets against the 低保 standard, never per person.

A Beijing-hukou household whose monthly income per member is under the standard and whose
declared financial assets per member are within the asset line is eligible for 低保; most such
households receive it, the rest have not applied (the people ``bj-dibao-invitation`` invites).
Above the standard and under the low-income line, some are recognised as 低收入 households.  A
person living alone who is old or severely disabled and under the standard is 特困 (no one
obliged to support them).  The household's status is every member's.

>>> import numpy as np
>>> from simulations.population._households import draw_households
>>> rng = np.random.default_rng(1)
>>> s = draw_households(rng, 6)
>>> a = assess(rng, s, per_capita=np.zeros(s.households), beijing=np.ones(s.households, bool),
...            age=s.age, disability_grade=np.zeros(6, np.int64))
>>> set(a.status) <= {"dibao", "tekun", "none"}
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from simulations.population._households import COLLECTIVE, Skeleton
from simulations.population._sampling import bernoulli, categorical

__all__ = ["DIBAO_STANDARD", "LOW_INCOME_LINE", "Assessment", "assess"]

# 北京市城乡居民最低生活保障标准: 1,450 CNY per person-month from 2024-07-01
# (京民社救发〔2024〕80号; rules/parameters/library/dibao_standard.yaml holds the dated values).
DIBAO_STANDARD: Final = 1450.0
# modelled: the low-income line as twice the 低保 standard (no verified Beijing figure).
LOW_INCOME_LINE: Final = 2 * DIBAO_STANDARD
# modelled: declared financial assets per member within 24 months of the standard.
ASSET_LINE_MONTHS: Final = 24
# modelled take-up: shares of eligible households that receive the status.
DIBAO_TAKE_UP: Final = 0.52
LOW_INCOME_TAKE_UP: Final = 0.15
TEKUN_TAKE_UP: Final = 0.4

# modelled: housing tenure by hukou (Beijing households mostly own; migrants mostly rent).
_HOUSING_BEIJING = {"owned": 0.76, "public_rental": 0.06, "market_rental": 0.14, "other": 0.04}
_HOUSING_MIGRANT = {"owned": 0.25, "public_rental": 0.02, "market_rental": 0.65, "other": 0.08}


@dataclass(frozen=True)
class Assessment:
    """Per household: assistance status, housing tenure, declared assets (CNY)."""

    status: npt.NDArray[np.object_]
    housing: npt.NDArray[np.object_]
    declared_assets: npt.NDArray[np.float64]


def assess(
    rng: np.random.Generator,
    s: Skeleton,
    *,
    per_capita: npt.NDArray[np.float64],
    beijing: npt.NDArray[np.bool_],
    age: npt.NDArray[np.int64],
    disability_grade: npt.NDArray[np.int64],
) -> Assessment:
    """Each household's status from its income per member (``per_capita``), its hukou
    (``beijing``, the head's) and its declared assets, drawn here."""
    h = s.households
    collective = s.kind == COLLECTIVE
    # Financial assets: about eight months of the household's income plus savings, widely
    # spread (modelled).
    monthly = per_capita * s.size
    median = 8 * monthly + 20_000
    assets = np.round(median * np.exp(1.1 * rng.standard_normal(h)), -2)
    assets_ok = assets / np.maximum(s.size, 1) <= ASSET_LINE_MONTHS * DIBAO_STANDARD

    below = beijing & assets_ok & (per_capita < DIBAO_STANDARD)
    low = beijing & assets_ok & ~below & (per_capita < LOW_INCOME_LINE)
    head = s.first_member
    frail = (age[head] >= 60) | ((disability_grade[head] >= 1) & (disability_grade[head] <= 2))
    alone = (s.size == 1) & ~collective
    draw = rng.random(h)
    status = np.full(h, "none", dtype=object)
    status[low & (draw < LOW_INCOME_TAKE_UP)] = "low_income"
    status[below & (draw < DIBAO_TAKE_UP)] = "dibao"
    status[below & alone & frail & (draw < TEKUN_TAKE_UP)] = "tekun"

    housing = np.where(
        beijing, categorical(rng, _HOUSING_BEIJING, h), categorical(rng, _HOUSING_MIGRANT, h)
    ).astype(object)
    # Assisted households are offered public rental housing more often (modelled).
    assisted = status != "none"
    housing[assisted & bernoulli(rng, 0.3, h)] = "public_rental"
    housing[collective] = "other"
    return Assessment(status=status, housing=housing, declared_assets=assets)
