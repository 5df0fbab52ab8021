"""Unified social credit codes (统一社会信用代码, GB 32100-2015), vectorised.

Layout: registration authority (1) + entity type (1) + administrative division (6) +
organisation code (9, GB 11714 with its own check character) + check character (1).

>>> is_valid("91350100M000100Y43")
True
>>> is_valid("91350100M000100Y44")
False
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = ["ALPHABET", "generate_codes", "is_valid"]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = np.array([3**i % 31 for i in range(17)], dtype=np.int64)
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)


def is_valid(code: str) -> bool:
    """Whether ``code`` has 18 characters of the alphabet and a correct check character."""
    if len(code) != 18 or any(c not in _VALUE for c in code):
        return False
    total = sum(_VALUE[c] * int(w) for c, w in zip(code[:17], _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31] == code[17]


def generate_codes(rng: np.random.Generator, admin_codes: npt.NDArray[np.str_]) -> pl.Series:
    """One valid code per entry of ``admin_codes`` (6-digit division codes), distinct."""
    n = admin_codes.shape[0]
    # Organisation code body: 8 digits, distinct (a permutation of a random range).
    start = int(rng.integers(10_000_000, 50_000_000))
    body = start + rng.permutation(n).astype(np.int64)
    body_digits = (body[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    org_sum = (body_digits * _ORG_WEIGHTS).sum(axis=1)
    org_check = (11 - org_sum % 11) % 11  # 10 -> 'X', 11 -> '0' (handled by the modulo)
    admin_digits = np.array(
        [[int(c) for c in code] for code in admin_codes], dtype=np.int64
    ).reshape(n, 6)
    head = np.full((n, 2), [9, 1], dtype=np.int64)  # 9: market regulator, 1: enterprise
    org_check_value = np.where(org_check == 10, _VALUE["X"], org_check)
    values = np.concatenate([head, admin_digits, body_digits, org_check_value[:, None]], axis=1)
    check = (31 - (values * _WEIGHTS).sum(axis=1) % 31) % 31
    alphabet = np.array(list(ALPHABET))
    chars = alphabet[np.concatenate([values, check[:, None]], axis=1)]
    return pl.Series("enterprise_id", ["".join(row) for row in chars], dtype=pl.String)
