from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from core.errors import ValidationError
from matcher.ranking.features import (
    FeatureSpec,
    build_features,
    fit_feature_spec,
    history_counts,
)
from profiles.schema import load_schema
from rules.policy import Policy

SCHEMA = load_schema(extensions=())
POLICIES = [
    Policy(
        id="bj-a", title="A", department="北京市民政局", audience="resident", mode="auto_grant",
        eligibility="age >= 80", valid_from=date(2020, 1, 1), benefit="100",
        benefit_period="month", category="养老",
    ),
    Policy(
        id="bj-b", title="B", department="北京市残疾人联合会", audience="resident",
        mode="proactive_push", eligibility="age >= 18", valid_from=date(2020, 1, 1),
        benefit="500", benefit_period="once",
    ),
]  # fmt: skip
PAIRS = pl.DataFrame(
    {
        "subject_id": ["P1", "P1", "P2"],
        "subject_type": ["resident"] * 3,
        "policy_id": ["bj-a", "bj-b", "bj-b"],
        "status": ["eligible", "maybe", "eligible"],
        "benefit": [100.0, None, 500.0],
    }
)
PEOPLE = pl.DataFrame(
    {
        "person_id": ["P1", "P2"],
        "name": ["甲", "乙"],
        "age": [82, None],
        "employment_status": ["retired", "employed"],
        "monthly_income": [2500.0, 9000.0],
        "is_veteran": [True, None],
        "tags": [["new_retiree"], []],
    }
)


def _spec(**kwargs: object) -> FeatureSpec:
    return fit_feature_spec(
        PAIRS,
        {"resident": PEOPLE},
        POLICIES,
        SCHEMA,
        min_tag_count=1,
        **kwargs,  # type: ignore[arg-type]
    )


def _column(spec: FeatureSpec, x: np.ndarray, name: str) -> list[float]:
    return x[:, spec.names.index(name)].tolist()  # type: ignore[no-any-return]


def test_columns_come_from_the_schema_not_a_second_list() -> None:
    spec = _spec()
    resident = SCHEMA.resident
    numeric = [f for f in resident.fields if f.type in ("integer", "number", "boolean")]
    for field in numeric:
        trait = field.sensitivity == "ordinary" and field.name != "weight"
        assert (f"resident.{field.name}" in spec.names) == trait
    # a synthetic record's calibration weight says nothing about the person
    assert not any(n.endswith(".weight") for n in spec.names)
    for value in resident.field("employment_status").values:
        assert f"resident.employment_status={value}" in spec.names
    # identifiers, free text and dates never become features
    for name in ("person_id", "name", "phone", "address", "birth_date", "hukou_city"):
        assert not any(n.startswith(f"resident.{name}") for n in spec.names)


def test_a_schema_extension_field_becomes_a_feature(tmp_path: Path) -> None:
    extension = tmp_path / "ext.yaml"
    extension.write_text(
        "entities:\n  resident:\n    fields:\n"
        "      - {name: pension_months, type: integer, zh: 养老金缴费月数, en: Pension months}\n",
        encoding="utf-8",
    )
    schema = load_schema(extensions=(extension,))
    spec = fit_feature_spec(PAIRS, {"resident": PEOPLE}, POLICIES, schema)
    assert "resident.pension_months" in spec.names


PROTECTED_OR_SENSITIVE = ("age", "gender", "disability_grade", "monthly_income",
                          "household_income_per_capita", "subsistence_status")  # fmt: skip


def test_by_default_no_protected_or_sensitive_field_is_read() -> None:
    spec = _spec()
    for name in PROTECTED_OR_SENSITIVE:
        assert not any(n.split("=")[0] == f"resident.{name}" for n in spec.names), name
    assert all(f.citable for f in spec.features) and not spec.audit


def test_audit_features_read_them_and_mark_the_spec_for_audits_only() -> None:
    spec = _spec(audit=True)
    for name in PROTECTED_OR_SENSITIVE:
        assert any(n.split("=")[0] == f"resident.{name}" for n in spec.names), name
    assert spec.audit and {"年龄", "月收入", "残疾等级", "社会救助类别"} <= set(spec.uncitable)
    # identifiers stay out even for audits
    assert not any(n.startswith(("resident.person_id", "resident.phone")) for n in spec.names)


def test_a_tag_is_read_only_when_its_sensitivity_is_known_and_ordinary() -> None:
    assert "tag:new_retiree" not in _spec().names  # sensitivity unknown
    ordinary = _spec(tag_sensitivity={"new_retiree": "ordinary"})
    assert "tag:new_retiree" in ordinary.names and not ordinary.audit
    assert "tag:new_retiree" not in _spec(tag_sensitivity={"new_retiree": "protected"}).names


def test_a_stored_feature_without_a_sensitivity_is_not_citable() -> None:
    spec = _spec()
    rows = [{k: v for k, v in row.items() if k != "sensitivity"} for row in spec.to_dict()]
    assert FeatureSpec.from_dict(rows).audit


def test_values_unknowns_one_hots_and_tags() -> None:
    spec = _spec(audit=True)
    x = build_features(spec, PAIRS, {"resident": PEOPLE}, POLICIES, SCHEMA)
    assert x.shape == (3, len(spec.features)) and x.dtype == np.float64
    assert _column(spec, x, "resident.age")[:2] == [82.0, 82.0]
    assert math.isnan(_column(spec, x, "resident.age")[2])  # unknown is NaN, not 0
    assert _column(spec, x, "resident.employment_status=retired") == [1.0, 1.0, 0.0]
    assert _column(spec, x, "resident.is_veteran")[0] == 1.0
    assert math.isnan(_column(spec, x, "resident.is_veteran")[2])
    assert _column(spec, x, "tag:new_retiree") == [1.0, 1.0, 0.0]
    assert _column(spec, x, "policy.mode=auto_grant") == [1.0, 0.0, 0.0]
    assert _column(spec, x, "policy.policy_id=bj-b") == [0.0, 1.0, 1.0]
    assert _column(spec, x, "pair.maybe") == [0.0, 1.0, 0.0]
    benefit = _column(spec, x, "policy.annual_benefit")
    assert benefit[0] == 1200.0 and math.isnan(benefit[1]) and benefit[2] == 500.0
    # no log given: past outcomes are unknown
    assert math.isnan(_column(spec, x, "history.open_rate")[0])


def test_benefit_and_past_take_up_are_monotonic() -> None:
    spec = _spec(audit=True)
    monotonic = dict(zip(spec.names, spec.monotonic, strict=True))
    assert monotonic["policy.annual_benefit"] == 1
    assert monotonic["history.apply_rate"] == 1
    assert monotonic["resident.age"] == 0


def test_rare_tags_are_left_out() -> None:
    spec = fit_feature_spec(PAIRS, {"resident": PEOPLE}, POLICIES, SCHEMA, min_tag_count=3,
                            tag_sensitivity={"new_retiree": "ordinary"})  # fmt: skip
    assert "tag:new_retiree" not in spec.names


def test_history_is_rates_per_subject_and_zero_pushes_for_the_unmentioned() -> None:
    log = pl.DataFrame(
        {
            "round": [1, 1], "subject_id": ["P1", "P1"], "policy_id": ["bj-a", "bj-b"],
            "pushed": [True, True], "opened": [True, False], "applied": [True, False],
            "complained": [False, True],
        }
    )  # fmt: skip
    spec = _spec()
    x = build_features(spec, PAIRS, {"resident": PEOPLE}, POLICIES, SCHEMA, history=log)
    assert _column(spec, x, "history.pushes") == [2.0, 2.0, 0.0]
    assert _column(spec, x, "history.open_rate")[:2] == [0.5, 0.5]
    assert _column(spec, x, "history.complaint_rate")[0] == 0.5
    # bj-a is a grant: nobody applies for it, so only bj-b counts towards take-up
    assert _column(spec, x, "history.apply_rate")[0] == 0.0
    assert math.isnan(_column(spec, x, "history.open_rate")[2])
    assert history_counts(log).height == 1


def test_spec_round_trips_through_its_dict() -> None:
    spec = _spec()
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValidationError, match="malformed"):
        FeatureSpec.from_dict([{"nom": "x"}])


def test_pairs_without_the_key_columns_are_refused() -> None:
    with pytest.raises(ValidationError, match="policy_id"):
        build_features(_spec(), PAIRS.drop("policy_id"), {"resident": PEOPLE}, POLICIES, SCHEMA)


def test_a_deadline_is_the_days_from_the_as_of_date_to_the_policys_end() -> None:
    from dataclasses import replace

    from matcher.ranking.explain import describe
    from matcher.ranking.features import DAYS_LEFT

    assert DAYS_LEFT not in _spec().names  # no policy of the catalog ends
    ending = [POLICIES[0], replace(POLICIES[1], valid_until=date(2026, 12, 31))]
    spec = fit_feature_spec(PAIRS, {"resident": PEOPLE}, ending, SCHEMA)
    assert DAYS_LEFT in spec.names and not spec.audit
    x = build_features(spec, PAIRS, {"resident": PEOPLE}, ending, SCHEMA, as_of=date(2026, 6, 30))
    days = _column(spec, x, DAYS_LEFT)
    assert math.isnan(days[0]) and days[1:] == [184.0, 184.0]  # bj-a never ends
    unknown = build_features(spec, PAIRS, {"resident": PEOPLE}, ending, SCHEMA)
    assert all(math.isnan(v) for v in _column(spec, unknown, DAYS_LEFT))
    feature = spec.features[spec.names.index(DAYS_LEFT)]
    assert describe(feature, 184.0, 0.1).startswith("距政策截止天数 184 提高得分")
    assert describe(feature, math.nan, -0.1).startswith("政策长期有效 降低得分")
