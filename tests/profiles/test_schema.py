from __future__ import annotations

import ast
from pathlib import Path

import polars as pl
import pytest

from core.errors import SchemaError
from profiles.schema import load_schema

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "profiles", "rules", "matcher", "notifier", "api", "simulations")


def test_core_fields_of_the_design_are_all_declared() -> None:
    schema = load_schema()
    resident = {"person_id", "gender", "birth_date", "age", "hukou_city", "hukou_district",
                "residence_district", "marital_status", "household_size", "children_under_3",
                "employment_status", "monthly_income", "household_income_per_capita",
                "disability_grade", "subsistence_status", "is_veteran", "tags"}  # fmt: skip
    enterprise = {"enterprise_id", "name", "registered_district", "industry_code", "size_class",
                  "employees", "annual_revenue", "founded_date", "age_years", "high_tech",
                  "specialized_sme", "tax_credit_rating", "unemployment_insurance_months",
                  "layoff_rate", "graduate_hires", "tags"}  # fmt: skip
    event = {"subject_id", "subject_type", "item_code", "occurred_at"}
    assert resident <= set(schema.resident.field_names)
    assert enterprise <= set(schema.enterprise.field_names)
    assert event <= set(schema.event.field_names)
    for entity in (schema.resident, schema.enterprise, schema.event):
        for f in entity.fields:
            assert f.zh and f.en, f.name


def test_derived_fields_are_typed_and_not_stored() -> None:
    resident = load_schema().resident
    assert resident.field("age").derived_from == "birth_date"
    assert "age" not in resident.polars_schema()
    assert resident.polars_schema(include_derived=True)["age"] == pl.Int64


def test_an_extension_adds_fields(tmp_path: Path) -> None:
    ext = tmp_path / "ext.yaml"
    ext.write_text(
        "entities:\n  resident:\n    fields:\n"
        "      - {name: has_car, name_zh: 有车, type: boolean, zh: 是否有车, en: Owns a car}\n",
        encoding="utf-8",
    )
    schema = load_schema([ext])
    assert schema.resident.field("has_car").type == "boolean"
    assert schema.resident.by_name_zh["有车"].name == "has_car"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("      - {name: age, type: integer, zh: x, en: x}\n", "declared twice"),
        ("      - {name: Bad, type: integer, zh: x, en: x}\n", "must be lowercase"),
        ("      - {name: x, type: money, zh: x, en: x}\n", "has type 'money'"),
        ("      - {name: x, type: enum, zh: x, en: x}\n", "needs a non-empty 'values'"),
    ],
)
def test_a_malformed_extension_is_refused(tmp_path: Path, body: str, needle: str) -> None:
    ext = tmp_path / "ext.yaml"
    ext.write_text("entities:\n  resident:\n    fields:\n" + body, encoding="utf-8")
    with pytest.raises(SchemaError, match=needle):
        load_schema([ext])


def test_there_is_no_second_list_of_fields_in_the_packages() -> None:
    """No list, tuple or set literal, nor a dict of constants, in package code names three or
    more schema fields: field lists are derived from the schema, never written again."""
    schema = load_schema()
    fields = {f.name for e in schema.entities.values() for f in e.fields} - {"name", "tags"}
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:  # a migration is a frozen copy of its day's schema
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.List | ast.Tuple | ast.Set):
                    items = node.elts
                elif isinstance(node, ast.Dict) and all(
                    isinstance(v, ast.Constant) for v in node.values
                ):  # {field: constant} declares fields; {field: computed values} is data
                    items = [k for k in node.keys if k is not None]
                else:
                    continue
                named = {
                    i.value
                    for i in items
                    if isinstance(i, ast.Constant) and isinstance(i.value, str)
                }
                named &= fields
                if len(named) >= 3:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {sorted(named)}")
    assert offenders == []
