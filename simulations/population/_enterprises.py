"""Synthetic enterprises: district, industry, size, age, certifications, insurance, hiring."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from simulations.population import _marginals as m
from simulations.population._credit_code import generate_codes
from simulations.population._names import digits, pools, sample
from simulations.population._sampling import bernoulli, categorical
from simulations.population._sampling import lognormal_median as lognormal

__all__ = ["generate_enterprises"]

_EPOCH = date(1970, 1, 1)

_SUFFIX_BY_SECTION = {
    "C": "制造有限公司",
    "E": "建设工程有限公司",
    "F": "商贸有限公司",
    "G": "运输有限公司",
    "H": "餐饮管理有限公司",
    "I": "信息技术有限公司",
    "J": "投资管理有限公司",
    "K": "房地产开发有限公司",
    "L": "商务咨询有限公司",
    "M": "科技有限公司",
    "O": "家政服务有限公司",
    "P": "教育科技有限公司",
    "Q": "医疗管理有限公司",
    "R": "文化传媒有限公司",
}


def generate_enterprises(rng: np.random.Generator, n: int, *, as_of: date) -> pl.DataFrame:
    """``n`` enterprises as of ``as_of``, with every stored core field (no nulls yet)."""
    p = pools()
    district = categorical(rng, m.ENTERPRISE_DISTRICT_SHARE, n)
    industry = categorical(rng, m.INDUSTRY_SHARE, n)
    section = np.array([code[0] for code in industry])
    size = categorical(rng, m.SIZE_CLASS_SHARE, n)

    employees = np.zeros(n, dtype=np.int64)
    revenue = np.zeros(n, dtype=np.float64)
    for cls, (low, high) in m.SIZE_EMPLOYEES.items():
        mask = size == cls
        k = int(mask.sum())
        # Skewed inside the class: more firms near the lower bound.
        span = high - low + 1
        employees[mask] = low + np.minimum(
            (rng.exponential(span / 3, size=k)).astype(np.int64), span - 1
        )
        revenue[mask] = lognormal(rng, m.SIZE_REVENUE_MEDIAN[cls], 0.8, k)
    revenue = np.round(revenue, 1)

    # At least a day old: founded before the as-of date, like every event.
    age_days = np.clip(rng.exponential(8 * 365.25, size=n), 1, 40 * 365.25).astype(np.int64)
    founded = pl.Series((as_of - _EPOCH).days - age_days, dtype=pl.Int32).cast(pl.Date)
    age_years = age_days / 365.25

    tech = np.isin(section, m.TECH_SECTIONS)
    bigger = np.isin(size, ["small", "medium", "large"])
    high_tech_p = np.where(tech, m.HIGH_TECH_SHARE_TECH, m.HIGH_TECH_SHARE_OTHER)
    high_tech = bernoulli(rng, high_tech_p * np.where(bigger, 3.0, 0.6) * (age_years >= 1), n)
    sme = np.isin(size, ["small", "medium"])
    specialized = bernoulli(rng, m.SPECIALIZED_SHARE_TECH_SME * (tech & sme) * (age_years >= 2), n)

    rating = categorical(rng, m.TAX_RATING_SHARE, n)
    # Firms younger than a full tax year are rated M (new) under the State Taxation
    # Administration's rules.
    rating = np.where(age_years < 1, "M", rating)

    insured = bernoulli(rng, 0.85, n)
    ui_months = np.where(insured, np.minimum(age_years * 12, 240).astype(np.int64), 0)
    ui_months = np.asarray(np.maximum(ui_months - rng.integers(0, 6, size=n), 0), dtype=np.int64)

    laid_off = bernoulli(rng, 0.15, n)
    layoff_rate = np.where(laid_off, np.round(rng.beta(2, 20, size=n), 4), 0.0)
    graduate_hires = rng.poisson(np.where(size == "micro", 0.05, employees * 0.03)).astype(np.int64)

    codes = generate_codes(rng, np.array([m.DISTRICT_ADMIN_CODES[d] for d in district]))
    word = sample(p.company_words, rng.integers(0, len(p.company_words), size=n))
    suffix = pl.Series(section, dtype=pl.String).replace_strict(
        _SUFFIX_BY_SECTION, return_dtype=pl.String
    )
    district_short = pl.Series(district, dtype=pl.String).str.strip_suffix("区")
    prefix = sample(p.phone_prefixes, rng.integers(0, len(p.phone_prefixes), size=n))
    return pl.DataFrame(
        {
            "enterprise_id": codes,
            "name": "北京" + word + district_short + suffix,
            "registered_district": district,
            "industry_code": industry,
            "size_class": size,
            "employees": employees,
            "annual_revenue": revenue,
            "founded_date": founded,
            "high_tech": high_tech,
            "specialized_sme": specialized,
            "tax_credit_rating": rating,
            "unemployment_insurance_months": ui_months,
            "layoff_rate": layoff_rate,
            "graduate_hires": graduate_hires,
            "contact_phone": prefix + digits(rng, n, 8),
            "contact_email": "hr" + digits(rng, n, 6) + "@example.cn",
        }
    ).with_columns(pl.lit([], dtype=pl.List(pl.String)).alias("tags"))
