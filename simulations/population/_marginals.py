"""Target distributions of the synthetic Beijing population, each with its source.

Figures marked *census* are from the Beijing Municipal Bureau of Statistics' bulletins of the
7th National Population Census (2020); others are named in ``SOURCES.md`` beside this file, and
those marked *modelled* are assumptions chosen to be plausible, not published statistics.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "AGE_BANDS",
    "DISTRICT_ADMIN_CODES",
    "DISTRICT_POPULATION_10K",
    "ENTERPRISE_DISTRICT_SHARE",
    "INDUSTRY_SHARE",
    "NON_HUKOU_CITIES",
    "SIZE_CLASS_SHARE",
]

# census: resident population by district, 10,000 persons (Bulletin No. 2, 2021-05-19).
DISTRICT_POPULATION_10K: Final[dict[str, float]] = {
    "东城区": 70.9,
    "西城区": 110.6,
    "朝阳区": 345.2,
    "丰台区": 201.9,
    "石景山区": 56.8,
    "海淀区": 313.3,
    "门头沟区": 39.3,
    "房山区": 131.3,
    "通州区": 184.0,
    "顺义区": 132.4,
    "昌平区": 226.9,
    "大兴区": 199.4,
    "怀柔区": 44.1,
    "平谷区": 45.7,
    "密云区": 52.8,
    "延庆区": 34.6,
}

# GB/T 2260 administrative division codes (used in unified social credit codes).
DISTRICT_ADMIN_CODES: Final[dict[str, str]] = {
    "东城区": "110101",
    "西城区": "110102",
    "朝阳区": "110105",
    "丰台区": "110106",
    "石景山区": "110107",
    "海淀区": "110108",
    "门头沟区": "110109",
    "房山区": "110111",
    "通州区": "110112",
    "顺义区": "110113",
    "昌平区": "110114",
    "大兴区": "110115",
    "怀柔区": "110116",
    "平谷区": "110117",
    "密云区": "110118",
    "延庆区": "110119",
}

# Five-year age bands (lower bound, per cent of residents), for 2024: 60+ 23.5 % and 80+ 3.1 %
# (2024年北京市老龄事业发展报告: 514.0 万 and 68.7 万 of 2,183.2 万), 0-14 11.9 % (census);
# 0-4 is 3.1 % so that age 0 is near the 2024 births (6.09 per mille, about 133,000).  The split
# inside the broad groups is modelled on the census pyramid, the 15-59 bands scaled down by
# 64.6 / 68.5 and the 60-79 bands up by 20.4 / 16.8 from the census shares.
AGE_BANDS: Final[tuple[tuple[int, float], ...]] = (
    (0, 3.1),
    (5, 4.6),
    (10, 4.2),
    (15, 2.8),
    (20, 5.2),
    (25, 8.4),
    (30, 10.3),
    (35, 8.9),
    (40, 7.4),
    (45, 7.2),
    (50, 7.3),
    (55, 7.2),
    (60, 7.3),
    (65, 6.4),
    (70, 4.1),
    (75, 2.6),
    (80, 1.6),
    (85, 1.0),
    (90, 0.4),
    (95, 0.1),
)

# census: 8.418 million of 21.893 million residents came from outside Beijing (38.5 %).
NON_HUKOU_SHARE: Final = 0.385
# census: sex ratio 104.7 males per 100 females.
MALE_SHARE: Final = 104.7 / 204.7

# Where non-Beijing hukou holders are registered: modelled on the census's largest origins.
NON_HUKOU_CITIES: Final[tuple[str, ...]] = (
    "保定市", "石家庄市", "邯郸市", "廊坊市", "张家口市", "沧州市", "天津市", "哈尔滨市",
    "郑州市", "周口市", "济南市", "菏泽市", "太原市", "呼和浩特市", "沈阳市", "合肥市",
    "武汉市", "成都市",
)  # fmt: skip

# Enterprises by district of registration (per cent): 朝阳 17.9, 海淀 12.2 and 通州 8.2 are the
# 5th economic census's shares of legal units (2023, 北京市第五次全国经济普查公报第七号); the other
# districts share the remaining 61.7 % modelled on the 4th census's shares (2018, 公报第五号),
# 大兴 including the economic-technological development area.
ENTERPRISE_DISTRICT_SHARE: Final[dict[str, float]] = {
    "朝阳区": 17.9,
    "海淀区": 12.2,
    "通州区": 8.2,
    "丰台区": 9.0,
    "昌平区": 8.0,
    "大兴区": 8.0,
    "顺义区": 5.5,
    "房山区": 5.2,
    "怀柔区": 4.9,
    "西城区": 4.6,
    "东城区": 4.5,
    "石景山区": 3.0,
    "平谷区": 3.0,
    "密云区": 3.0,
    "门头沟区": 2.1,
    "延庆区": 0.9,
}

# Industries (GB/T 4754-2017 section letter + division -> per cent of firms): sections F 25 %,
# L 18 % and M 15 % follow the 5th economic census (2023: 批发和零售业 24.9 %, 租赁和商务服务业
# 18.1 %, 科学研究和技术服务业 15.0 % of legal units, 公报第二号); the divisions inside a
# section and the other sections are modelled on the 4th census's structure.
INDUSTRY_SHARE: Final[dict[str, float]] = {
    "F51": 18.0,  # 批发业
    "F52": 7.0,  # 零售业
    "L72": 18.0,  # 商务服务业
    "M75": 11.0,  # 科技推广和应用服务业
    "M73": 4.0,  # 研究和试验发展
    "I65": 10.0,  # 软件和信息技术服务业
    "I64": 3.0,  # 互联网和相关服务
    "H62": 4.0,  # 餐饮业
    "E48": 3.0,  # 土木工程建筑业
    "C39": 2.0,  # 计算机、通信和其他电子设备制造业
    "C27": 1.0,  # 医药制造业
    "C35": 2.0,  # 专用设备制造业
    "K70": 3.0,  # 房地产业
    "J66": 1.0,  # 货币金融服务
    "J67": 1.0,  # 资本市场服务
    "R86": 3.0,  # 广播、电视、电影和录音制作业
    "P83": 2.0,  # 教育
    "Q84": 1.0,  # 卫生
    "G54": 1.0,  # 道路运输业
    "O80": 5.0,  # 居民服务业
}
# Sections where high-tech and 专精特新 certification concentrates.
TECH_SECTIONS: Final = ("C", "I", "M")

# modelled on the 4th economic census's size structure of enterprises (micro dominate).
SIZE_CLASS_SHARE: Final[dict[str, float]] = {
    "micro": 82.0,
    "small": 13.0,
    "medium": 4.0,
    "large": 1.0,
}
# Employees (inclusive range) and median annual revenue (10k CNY) per size class, after
# the NBS classification of enterprise sizes (国统字〔2017〕213号), simplified.
SIZE_EMPLOYEES: Final[dict[str, tuple[int, int]]] = {
    "micro": (1, 9),
    "small": (10, 99),
    "medium": (100, 299),
    "large": (300, 5000),
}
SIZE_REVENUE_MEDIAN: Final[dict[str, float]] = {
    "micro": 50.0,
    "small": 800.0,
    "medium": 8000.0,
    "large": 80000.0,
}

# Certification shares, tuned so that the draws come near the targets (targets.yaml): Beijing
# had 8,754 专精特新 firms in 2024 (北京市经济和信息化局, 2024-09-26), 0.74 % of the 5th census's
# 1.179 million legal units, concentrated in small and medium technology firms; about 28,000
# high-tech enterprises in 2023 (Beijing Municipal Science & Technology Commission, unverified).
HIGH_TECH_SHARE_TECH: Final = 0.066  # of firms in sections C, I, M
HIGH_TECH_SHARE_OTHER: Final = 0.0033
SPECIALIZED_SHARE_TECH_SME: Final = 0.165  # of small and medium firms in C, I, M aged 2+

TAX_RATING_SHARE: Final[dict[str, float]] = {"A": 25.0, "B": 45.0, "M": 20.0, "C": 7.0, "D": 3.0}

# Disability: certified (持证) disabled residents, about 526,000 with 55 % aged 60+ (issue 16's
# findings from the Beijing Disabled Persons' Federation, unverified); China's 2nd National
# Sample Survey on Disability (2006) found 6.34 % prevalence of all disability.  Certified
# prevalence by age, modelled to those totals on the 2024 age structure:
DISABILITY_BY_AGE: Final[tuple[tuple[int, float], ...]] = (
    (0, 0.006),
    (18, 0.016),
    (60, 0.049),
    (80, 0.107),
)
DISABILITY_GRADE_SHARE: Final[dict[int, float]] = {1: 12.0, 2: 25.0, 3: 30.0, 4: 33.0}

# Beijing Civil Affairs Bureau statistics put 低保 recipients near 0.5 % of residents and 特困
# near 0.03 %; 低收入 families are modelled at a similar order.
SUBSISTENCE_THRESHOLD_DIBAO: Final = 1395.0  # CNY per person-month (Beijing standard, 2023)
SUBSISTENCE_THRESHOLD_LOW_INCOME: Final = 2790.0  # twice the dibao standard

VETERAN_SHARE_MALE_ADULT: Final = 0.04  # modelled
VETERAN_SHARE_FEMALE_ADULT: Final = 0.003  # modelled

# Retirement ages before the 2025 gradual reform: men 60, women 55 (cadres) / 50 (workers);
# modelled as 60 and 55.
RETIREMENT_AGE: Final[dict[str, int]] = {"male": 60, "female": 55}

# Monthly income (CNY) medians and log-sd by employment status, modelled on Beijing's 2023
# average wage of urban employees (about 16,000 CNY/month, a mean pulled up by the top) and an
# average basic pension near 4,500 CNY/month.
INCOME_LOGNORMAL: Final[dict[str, tuple[float, float]]] = {
    "employed": (9000.0, 0.55),
    "self_employed": (8000.0, 0.80),
    "retired": (4500.0, 0.35),
    "unemployed": (1800.0, 0.40),
}
