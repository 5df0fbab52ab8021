"""Households (户) and who lives in them: sizes, compositions, relations, ages and sexes.

A population is drawn as households, not as people: each household takes a composition
(one person, a couple, a couple with children, three generations, ...) with the census's
shares, a head's age from the composition's age profile, and its members' ages from the
head's (a spouse near the head's age, children 24-40 years younger than their mother,
the head's parents 22-35 years older).  Residents of collective households (集体户: dormitories,
sites, care homes) are households of one.  Everything is vectorised over households of one
composition at a time.

>>> import numpy as np
>>> s = draw_households(np.random.default_rng(0), 50)
>>> int(s.member_household.size), bool((s.relation[s.first_member] == "head").all())
(50, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from simulations.population import _marginals as m
from simulations.population._sampling import bernoulli, categorical_index

__all__ = ["COLLECTIVE", "FAMILY_TEMPLATES", "Skeleton", "Template", "draw_households"]

IntArray = npt.NDArray[np.int64]

COLLECTIVE: Final = "collective"

# census (Bulletin No. 1 of Beijing's 7th census, 2021-05-19): 8,230,792 family households
# holding 19,014,338 people (2.31 each) and 907,136 collective households holding 2,878,757.
FAMILY_HOUSEHOLDS_2020: Final = 8_230_792
FAMILY_HOUSEHOLD_RESIDENTS_2020: Final = 19_014_338
COLLECTIVE_RESIDENTS_2020: Final = 2_878_757
COLLECTIVE_RESIDENT_SHARE: Final = COLLECTIVE_RESIDENTS_2020 / (
    FAMILY_HOUSEHOLD_RESIDENTS_2020 + COLLECTIVE_RESIDENTS_2020
)


@dataclass(frozen=True)
class Template:
    """One household composition: its share of family households, the head's age profile
    (lower bound, upper bound exclusive, share) and the members after the head."""

    name: str
    share: float
    head_ages: tuple[tuple[int, int, float], ...]
    members: tuple[str, ...]  # relations after the head, in order


# Compositions of family households (家庭户), per cent.  Sizes follow the census's size table
# and mean (2.31 persons per family household in 2020); the split of each size into
# compositions is modelled (see SOURCES.md, "Households").
_ADULT = ((23, 30, 0.20), (30, 45, 0.19), (45, 60, 0.15), (60, 75, 0.36), (75, 98, 0.10))
_COUPLE = ((22, 35, 0.17), (35, 55, 0.15), (55, 70, 0.42), (70, 80, 0.23), (80, 95, 0.03))
_PARENTS = ((31, 35, 0.10), (35, 45, 0.34), (45, 62, 0.56))
_YOUNG_PARENTS = ((32, 35, 0.14), (35, 45, 0.54), (45, 55, 0.32))
FAMILY_TEMPLATES: Final[tuple[Template, ...]] = (
    Template("one_person", 30.0, _ADULT, ()),
    Template("couple", 23.0, _COUPLE, ("spouse",)),
    Template("lone_parent", 3.0, _PARENTS, ("child",)),
    Template("with_elderly_parent", 3.0, ((30, 45, 0.4), (45, 62, 0.6)), ("parent",)),
    Template("siblings", 1.5, ((20, 60, 1.0),), ("sibling",)),
    Template("couple_one_child", 19.0, _PARENTS, ("spouse", "child")),
    Template("lone_parent_two_children", 0.6, _PARENTS, ("child", "child")),
    Template("couple_with_parent", 2.0, ((30, 45, 0.5), (45, 60, 0.5)), ("spouse", "parent")),
    Template("skipped_generation", 1.2, ((52, 75, 1.0),), ("spouse", "grandchild")),
    Template("other_three", 0.7, ((20, 60, 1.0),), ("sibling", "other")),
    Template("couple_two_children", 6.5, _YOUNG_PARENTS, ("spouse", "child", "child")),
    Template("three_generations", 4.0, _YOUNG_PARENTS, ("spouse", "child", "parent")),
    Template("couple_three_children", 0.8, _YOUNG_PARENTS, ("spouse", "child", "child", "child")),
    Template(
        "three_generations_two_grandparents",
        2.2,
        _YOUNG_PARENTS,
        ("spouse", "child", "parent", "parent"),
    ),
    Template(
        "three_generations_two_children",
        1.2,
        _YOUNG_PARENTS,
        ("spouse", "child", "child", "parent"),
    ),
    Template(
        "three_generations_large",
        1.6,
        _YOUNG_PARENTS,
        ("spouse", "child", "child", "parent", "parent"),
    ),
)

# Collective-household residents: mostly students and workers in dormitories, a few elderly
# people in care homes (modelled).
_COLLECTIVE_AGES: Final = ((16, 23, 0.25), (23, 36, 0.45), (36, 60, 0.26), (60, 95, 0.04))
_COLLECTIVE_MALE_SHARE: Final = 0.58
# Heads of couples are men in most household registers (modelled).
_HEAD_MALE_SHARE: Final = 0.62


@dataclass(frozen=True)
class Skeleton:
    """Households and their members, members grouped by household with the head first.

    Member arrays have one entry per resident; ``mother`` and ``father`` are indices of
    members (-1 when the parent is not in the population); ``guardian`` likewise.
    """

    kind: npt.NDArray[np.str_]  # per household: template name or "collective"
    first_member: IntArray  # per household: index of its head among members
    size: IntArray  # per household
    member_household: IntArray  # per member: index of the household
    relation: npt.NDArray[np.object_]
    male: npt.NDArray[np.bool_]
    age: IntArray
    mother: IntArray
    father: IntArray
    guardian: IntArray

    @property
    def households(self) -> int:
        return int(self.size.size)


def _ages(rng: np.random.Generator, bands: tuple[tuple[int, int, float], ...], n: int) -> IntArray:
    band = categorical_index(rng, [share for _, _, share in bands], n)
    low = np.array([b[0] for b in bands])[band]
    high = np.array([b[1] for b in bands])[band]
    return np.asarray(low + (rng.random(n) * (high - low)).astype(np.int64), dtype=np.int64)


# Births fell from about 0.86 % of residents a year (census 2020: 4.3 % aged 0-4) to 0.61 % in
# 2024 (6.09 per mille, targets.yaml): each of the last five birth cohorts relative to the
# earlier ones, modelled as a straight line between the two.
_RECENT_COHORTS: Final = np.array([0.61 / 0.86 + (1 - 0.61 / 0.86) * a / 5 for a in range(5)])


def _child_ages(rng: np.random.Generator, low: IntArray, high: IntArray) -> IntArray:
    """A child's age in whole years from ``low`` to ``high``, each year as likely as its birth
    cohort is large (rejection sampling, two rounds, then the last draw stands).

    >>> ages = _child_ages(np.random.default_rng(0), np.zeros(10_000, np.int64),
    ...                    np.full(10_000, 9, np.int64))
    >>> int(ages.min()), int(ages.max()), bool((ages == 0).sum() < (ages == 9).sum())
    (0, 9, True)
    """
    age = low + (rng.random(low.size) * (high - low + 1)).astype(np.int64)
    for _ in range(2):
        weight = np.where(age < 5, _RECENT_COHORTS[np.minimum(age, 4)], 1.0)
        again = (rng.random(age.size) >= weight) & (high > low)
        redraw = low + (rng.random(age.size) * (high - low + 1)).astype(np.int64)
        age = np.where(again, redraw, age)
    return np.asarray(age, dtype=np.int64)


def _kinds(rng: np.random.Generator, n: int) -> tuple[npt.NDArray[np.str_], IntArray]:
    """Enough household kinds and sizes for ``n`` residents (the last one cut to fit)."""
    names = [COLLECTIVE, *(t.name for t in FAMILY_TEMPLATES)]
    sizes = np.array([1, *(1 + len(t.members) for t in FAMILY_TEMPLATES)])
    family = np.array([t.share for t in FAMILY_TEMPLATES])
    family = family / family.sum()
    mean_family = float((family * sizes[1:]).sum())
    # Collective residents are one-person households: their share of households is what makes
    # their share of residents the census's.
    p = COLLECTIVE_RESIDENT_SHARE
    collective = p * mean_family / (1 - p + p * mean_family)
    shares = np.concatenate(([collective], (1 - collective) * family))
    if n == 0:
        return np.array([], dtype=str), np.zeros(0, dtype=np.int64)
    kinds: list[npt.NDArray[np.intp]] = []
    total = 0
    while total < n:
        batch = categorical_index(rng, list(shares), int((n - total) / mean_family * 1.05) + 8)
        kinds.append(batch)
        total += int(sizes[batch].sum())
    kind = np.concatenate(kinds)
    size = sizes[kind]
    ends = np.cumsum(size)
    last = int(np.searchsorted(ends, n))  # the household holding the n-th resident
    kind, size = kind[: last + 1], size[: last + 1].copy()
    size[last] -= int(ends[last] - n)
    return np.array(names)[kind], np.asarray(size, dtype=np.int64)


def draw_households(rng: np.random.Generator, n: int) -> Skeleton:
    """Households holding exactly ``n`` residents."""
    kind, size = _kinds(rng, n)
    households = kind.size
    first = np.concatenate(([0], np.cumsum(size)[:-1])).astype(np.int64) if households else size
    member_household = np.repeat(np.arange(households, dtype=np.int64), size)
    slot = np.arange(n, dtype=np.int64) - first[member_household]
    relation = np.full(n, "head", dtype=object)
    age = np.zeros(n, dtype=np.int64)
    male = np.zeros(n, dtype=bool)
    mother = np.full(n, -1, dtype=np.int64)
    father = np.full(n, -1, dtype=np.int64)
    guardian = np.full(n, -1, dtype=np.int64)

    templates = {t.name: t for t in FAMILY_TEMPLATES}
    for name in np.unique(kind):
        hh = np.flatnonzero(kind == name)
        heads = first[hh]
        k = hh.size
        if name == COLLECTIVE:
            age[heads] = _ages(rng, _COLLECTIVE_AGES, k)
            male[heads] = bernoulli(rng, _COLLECTIVE_MALE_SHARE, k)
            continue
        t = templates[str(name)]
        head_age = _ages(rng, t.head_ages, k)
        head_male = bernoulli(rng, _HEAD_MALE_SHARE if "spouse" in t.members else m.MALE_SHARE, k)
        age[heads], male[heads] = head_age, head_male
        present = np.ones(k, dtype=bool)  # the household still has this slot (the last is cut)
        spouse = np.full(k, -1, dtype=np.int64)
        parents_seen = np.zeros(k, dtype=np.int64)
        for i, rel in enumerate(t.members, start=1):
            present &= size[hh] > i
            idx = heads[present] + i
            kp = idx.size
            ha, hm = head_age[present], head_male[present]
            relation[idx] = rel
            if rel == "spouse":
                age[idx] = np.clip(ha + np.where(hm, -2, 2) + rng.integers(-3, 4, kp), 20, 100)
                male[idx] = ~hm
                spouse[present] = idx
            elif rel == "child":
                mum = np.where(hm & (spouse[present] >= 0), spouse[present], heads[present])
                parent_age = age[mum]
                # Born when the mother was 24-40 (Beijing's mothers are about 31 on average;
                # modelled), younger when she is still young; siblings are drawn alike.
                low = np.maximum(parent_age - 40, 0)
                high = np.maximum(parent_age - 24, 0)
                age[idx] = _child_ages(rng, low, high)
                male[idx] = bernoulli(rng, m.MALE_SHARE, kp)
                # Parents in the household: head and spouse (a lone parent has only one).
                sp = spouse[present]
                head_idx = heads[present]
                mother[idx] = np.where(~hm, head_idx, np.where(sp >= 0, sp, -1))
                father[idx] = np.where(hm, head_idx, np.where(sp >= 0, sp, -1))
            elif rel == "parent":
                second = parents_seen[present] > 0
                a = ha + rng.integers(22, 36, kp)
                prev = idx - 1
                a = np.where(second, np.clip(age[prev] + rng.integers(-4, 5, kp), ha + 20, 100), a)
                age[idx] = np.minimum(a, 100)
                # One elderly parent is a mother more often (women live longer); two are a couple.
                lone = bernoulli(rng, 0.35, kp)
                male[idx] = np.where(second, ~male[prev], lone)
                head_idx = heads[present]
                mother[head_idx] = np.where(~male[idx], idx, mother[head_idx])
                father[head_idx] = np.where(male[idx], idx, father[head_idx])
                parents_seen[present] += 1
            elif rel == "grandchild":
                age[idx] = np.clip(ha - rng.integers(45, 65, kp), 0, 17)
                male[idx] = bernoulli(rng, m.MALE_SHARE, kp)
                # Grandparents care for a child whose parents work elsewhere (留守儿童): the head
                # is the appointed guardian while the child is a minor.
                guardian[idx] = heads[present]
            else:  # sibling, other
                age[idx] = np.clip(ha + rng.integers(-10, 11, kp), 18, 95)
                male[idx] = bernoulli(rng, m.MALE_SHARE, kp)
    del slot
    return Skeleton(
        kind=kind,
        first_member=first,
        size=size,
        member_household=member_household,
        relation=relation,
        male=male,
        age=age,
        mother=mother,
        father=father,
        guardian=guardian,
    )
