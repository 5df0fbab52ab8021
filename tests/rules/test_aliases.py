"""Tags by their Chinese names and enum values by their labels: the same rule as the ids."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from profiles.schema import load_schema
from rules.compiler import compile_rule
from rules.errors import PositionedRuleError, RuleTypeError
from rules.evaluator import evaluate
from rules.explainer import explain
from rules.language import parse_rule

R = load_schema().resident
E = load_schema().enterprise
AS_OF = date(2026, 1, 1)


def _compiled(text: str, rows: dict[str, list[Any]]) -> list[bool | None]:
    schema = R.polars_schema(include_derived=True)
    frame = pl.DataFrame(rows, schema={k: schema[k] for k in rows})
    return frame.select(compile_rule(parse_rule(text, R), as_of=AS_OF)).to_series().to_list()


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ('"新生儿父母" in 标签', '"new_parent" in tags'),
        ('性别 == "女"', 'gender == "female"'),
        ('"女" == 性别', '"female" == gender'),
        ('社会救助类别 in ["特困", "低保"]', 'subsistence_status in ["tekun", "dibao"]'),
        ('employment_status != "退休"', 'employment_status != "retired"'),
        ('gender == "Female"', 'gender == "female"'),
    ],
)
def test_an_alias_is_read_as_the_id_or_value_it_names(alias: str, canonical: str) -> None:
    assert parse_rule(alias, R).text == canonical


def test_a_tag_by_its_chinese_name_matches_the_same_people_compiled_and_evaluated() -> None:
    rows: dict[str, list[Any]] = {"tags": [["new_parent"], [], None]}
    assert _compiled('"新生儿父母" in 标签', rows) == [True, False, None]
    rule = parse_rule('"新生儿父母" in 标签', R)
    assert [evaluate(rule, {"tags": t}, as_of=AS_OF) for t in rows["tags"]] == [True, False, None]


def test_an_enum_label_matches_the_same_people_compiled_and_evaluated() -> None:
    rows: dict[str, list[Any]] = {"subsistence_status": ["tekun", "dibao", None]}
    assert _compiled('社会救助类别 == "特困"', rows) == [True, False, None]
    rule = parse_rule('社会救助类别 == "特困"', R)
    got = [
        evaluate(rule, {"subsistence_status": v}, as_of=AS_OF) for v in rows["subsistence_status"]
    ]
    assert got == [True, False, None]


def test_the_explanation_shows_the_officers_words_and_the_value_read() -> None:
    rule = parse_rule('性别 == "女" and 年龄 >= 60', R)
    e = explain(rule, {"gender": "male", "age": 70}, as_of=AS_OF)
    assert e.clauses[0].text == '性别 == "女"'
    assert e.clauses[0].counterfactual == 'eligible if gender == "female"; it is "male"'


def test_an_error_after_an_alias_points_into_the_officers_text() -> None:
    with pytest.raises(RuleTypeError) as caught:
        parse_rule('性别 == "女" and 婚姻状况 == "再婚"', R)
    assert (caught.value.line, caught.value.col) == (1, 23)


@pytest.mark.parametrize(
    ("text", "col", "zh", "en"),
    [
        ('"育儿家庭" in 标签', 1, '标签库中没有标签 "育儿家庭"', "new_parent (新生儿父母)"),
        ('年龄 > 1 and "新生儿" in tags', 12, "您是否要写 \"新生儿父母\"（new_parent）？",
         'did you mean "new_parent" (新生儿父母)?'),
        ('"new_parnet" in tags', 1, "新生儿父母", 'did you mean "new_parent"'),
        ('"new_business" in tags', 1, "是企业的标签", "a tag of enterprises"),
    ],
)  # fmt: skip
def test_an_unknown_tag_is_refused_at_its_place_with_the_nearest_tag(
    text: str, col: int, zh: str, en: str
) -> None:
    with pytest.raises(PositionedRuleError) as caught:
        parse_rule(text, R)
    assert (caught.value.line, caught.value.col) == (1, col)
    assert zh in caught.value.in_language("zh")
    assert en in caught.value.in_language("en")


def test_an_enterprise_rule_reads_enterprise_tags_by_name() -> None:
    assert parse_rule('"新办企业" in 标签', E).text == '"new_business" in tags'


def test_a_tag_read_from_a_field_is_not_a_named_tag() -> None:
    assert parse_rule("hukou_city in tags", R).text == "hukou_city in tags"


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ("年纪 >= 80", "您是否要写“年龄”（age）？", "did you mean '年龄'?"),
        ("agee >= 80", "居民没有字段“agee”", "did you mean 'age'?"),
        ('性别 == "妇女"', "可选：男（male）、女（female）", "allowed: male, female"),
        ('size_class == "小微"', "微型（micro）", "allowed: micro, small"),
    ],
)
def test_an_unknown_name_or_value_suggests_the_fix_in_both_languages(
    text: str, zh: str, en: str
) -> None:
    entity = E if "size_class" in text else R
    with pytest.raises(RuleTypeError) as caught:
        parse_rule(text, entity)
    assert zh in caught.value.in_language("zh")
    assert en in caught.value.in_language("en")


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        (
            '年龄 >= "八十"',
            "不能用 >= 比较年龄（数字）和文字",
            "cannot compare age (a number) with a string",
        ),
        ("age > 3 && is_veteran", "此处不应出现 '&&'；请写 'and'", "unexpected '&&'; write 'and'"),
        ("not 年龄", "not 需要是/否，这里是年龄（数字）", "'not' expects boolean, found age"),
    ],
)
def test_type_and_syntax_errors_read_in_both_languages(text: str, zh: str, en: str) -> None:
    with pytest.raises(PositionedRuleError) as caught:
        parse_rule(text, R)
    assert zh in caught.value.in_language("zh")
    assert en in caught.value.in_language("en")
