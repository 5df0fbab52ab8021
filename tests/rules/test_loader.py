from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from core.errors import InputFileError
from rules.loader import CatalogError, load_catalog

GOOD = """\
id: test-elderly
title: 测试津贴
department: 测试局
audience: resident
mode: auto_grant
eligibility: age >= 80
benefit: '100'
benefit_period: month
valid_from: 2020-01-01
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path) -> list[str]:
    with pytest.raises(CatalogError) as info:
        load_catalog([tmp_path])
    return [str(p).replace(str(tmp_path) + "/", "") for p in info.value.problems]


def test_a_good_policy_loads(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    catalog = load_catalog([tmp_path])
    (policy,) = catalog.policies
    assert policy.id == "test-elderly"
    assert policy.valid_from == date(2020, 1, 1)
    assert catalog.texts["test-elderly"] == GOOD


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("mode: auto_grant", "mode: auto_grnt"), "a.yaml:5:7: mode 'auto_grnt' is not one of"),
        (("audience: resident", "audience: people"), "a.yaml:4:11: audience 'people'"),
        (("id: test-elderly", "id: Test_Elderly"), "a.yaml:1:5: id 'Test_Elderly' must be"),
        (("eligibility:", "eligibilty:"), "unknown key 'eligibilty'; did you mean 'eligibility'?"),
        (("valid_from: 2020-01-01", "valid_from: soon"), "a.yaml:9:13: valid_from must be a date"),
        (("benefit_period: month", "benefit_period: week"), "benefit_period 'week' is not one of"),
        (("title: 测试津贴\n", ""), "a.yaml:1:1: missing required key 'title'"),
    ],
)
def test_each_problem_is_reported_at_its_place(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    write(tmp_path, "a.yaml", GOOD.replace(*change))
    assert any(p.startswith(expected) or expected in p for p in problems(tmp_path))


def test_valid_until_before_valid_from(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD + "valid_until: 2019-12-31\n")
    assert problems(tmp_path) == [
        "a.yaml:10:14: valid_until 2019-12-31 is before valid_from 2020-01-01"
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('eligibility: employment_status == "retird"', "a.yaml:6:35: eligibility: "),
        ("eligibility: 'employment_status == \"retird\"'", "a.yaml:6:36: eligibility: "),
        ('eligibility: |\n  age >= 80 and\n  employment_status == "retird"', "a.yaml:8:24: "),
    ],
)
def test_expression_errors_land_on_the_exact_character(
    tmp_path: Path, line: str, expected: str
) -> None:
    write(tmp_path, "a.yaml", GOOD.replace("eligibility: age >= 80", line))
    (problem,) = problems(tmp_path)
    assert problem.startswith(expected)
    assert 'did you mean "retired"?' in problem


def test_all_problems_of_all_files_are_collected(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD.replace("mode: auto_grant", "mode: x"))
    write(tmp_path, "b.yaml", GOOD.replace("age >= 80", "agee >= 80"))
    write(tmp_path, "c.yaml", GOOD)
    write(tmp_path, "d.yaml", GOOD)
    found = problems(tmp_path)
    assert len(found) == 3
    assert found[2].startswith("d.yaml:1:5: duplicate id 'test-elderly'")


def test_not_yaml_and_missing_paths(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "id: [unclosed\n")
    assert problems(tmp_path)[0].startswith("a.yaml:2:1: not valid YAML")
    with pytest.raises(InputFileError, match="does not exist"):
        load_catalog([tmp_path / "nowhere"])


LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
"""


def test_a_billion_laughs_basis_is_refused_at_its_first_anchor_in_under_a_second(
    tmp_path: Path,
) -> None:
    write(tmp_path, "a.yaml", LAUGHS.replace("a: &a", "basis: &a") + GOOD)
    started = time.perf_counter()
    found = problems(tmp_path)
    assert time.perf_counter() - started < 1
    assert found == [
        "a.yaml:1:8: YAML anchors and aliases (&name, *name) are not allowed here; "
        "write each value out in full"
    ]


def test_an_alias_alone_is_refused_where_it_is_used(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD + "summary: *nothing\n")
    (problem,) = problems(tmp_path)
    assert problem.startswith("a.yaml:10:10: YAML anchors and aliases")


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD + "#" * (9 * 1024 * 1024) + "\n")
    started = time.perf_counter()
    (problem,) = problems(tmp_path)
    assert time.perf_counter() - started < 1
    assert problem.startswith("a.yaml:1:1: the document is 9.0 MiB; the limit is 64 KiB")


def test_a_deep_expression_in_a_file_is_placed_on_its_line(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD.replace("age >= 80", "not " * 500 + "is_veteran"))
    (problem,) = problems(tmp_path)
    assert problem.startswith("a.yaml:6:142: eligibility: the expression nests more than 32")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("basis: [[a, b], [c, d]]", "a.yaml:10:8: basis must be text"),
        ("contact: {phone: 12345}", "a.yaml:10:10: contact must be text"),
        ("materials: [[a, b]]", "a.yaml:10:12: materials must be a list of strings"),
    ],
)
def test_a_text_key_holding_a_structure_is_refused(
    tmp_path: Path, line: str, expected: str
) -> None:
    write(tmp_path, "a.yaml", GOOD + line + "\n")
    assert problems(tmp_path) == [expected]


def test_a_modelled_policy_loads_with_its_note(tmp_path: Path) -> None:
    note = "the 100 CNY amount is not verified"
    write(tmp_path, "a.yaml", GOOD + f"provenance: modelled\nprovenance_note: '{note}'\n")
    (policy,) = load_catalog([tmp_path]).policies
    assert (policy.provenance, policy.provenance_note, policy.modelled) == ("modelled", note, True)
    assert policy.to_dict()["provenance"] == "modelled"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("provenance: modelled\n", "a.yaml:10:13: a modelled policy says what is modelled and why"),
        ("provenance: modeled\n", "provenance 'modeled' is not one of cited, modelled; did you"),
        ("provenance: cited\nprovenance_note: [a]\n", "provenance_note must be text"),
    ],
)
def test_a_bad_provenance_is_refused_at_its_line(tmp_path: Path, extra: str, expected: str) -> None:
    write(tmp_path, "a.yaml", GOOD + extra)
    assert any(expected in p for p in problems(tmp_path)), problems(tmp_path)
