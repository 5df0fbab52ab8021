"""Pools of names, streets, phone prefixes and company words, built once from faker's zh_CN data.

Faker is never called per record: at a million residents that would take minutes.  The pools are
built from faker's provider tables (deterministic, no randomness of faker's own), then records
sample indices into them with the population's generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import polars as pl
from faker.providers.company.zh_CN import Provider as CompanyProvider
from faker.providers.person.zh_CN import Provider as PersonProvider
from faker.providers.phone_number.zh_CN import Provider as PhoneProvider

from simulations.population._sampling import weights

__all__ = ["Pools", "digits", "pools", "sample"]

_STREET_SUFFIXES = ("路", "街", "大街", "胡同", "里", "巷")
_EMAIL_DOMAINS = ("163.com", "126.com", "qq.com", "sina.com", "example.cn")


@dataclass(frozen=True)
class Pools:
    surnames: tuple[str, ...]
    surname_weights: npt.NDArray[np.float64]
    given_names: tuple[str, ...]
    streets: tuple[str, ...]
    phone_prefixes: tuple[str, ...]
    company_words: tuple[str, ...]
    email_domains: tuple[str, ...]


@cache
def pools() -> Pools:
    surnames = tuple(PersonProvider.last_names.keys())
    given = tuple(PersonProvider.first_names)
    roots = given[:60]  # two-character given names make plausible street names
    streets = tuple(f"{root}{suffix}" for root in roots for suffix in _STREET_SUFFIXES)
    return Pools(
        surnames=surnames,
        surname_weights=weights(list(PersonProvider.last_names.values())),
        given_names=given,
        streets=streets,
        phone_prefixes=tuple(str(p) for p in PhoneProvider.phonenumber_prefixes),
        company_words=tuple(CompanyProvider.company_prefixes),
        email_domains=_EMAIL_DOMAINS,
    )


def sample(pool: tuple[str, ...], idx: npt.NDArray[np.intp]) -> pl.Series:
    """The pool's strings at ``idx``, as a polars series (vectorised gather)."""
    return pl.Series(pool, dtype=pl.String).gather(pl.Series(idx, dtype=pl.UInt32))


def digits(rng: np.random.Generator, n: int, width: int) -> pl.Series:
    """``n`` zero-padded random decimal strings of ``width`` digits."""
    values = rng.integers(0, 10**width, size=n, dtype=np.int64)
    return pl.Series(values).cast(pl.String).str.zfill(width)
