from __future__ import annotations

from pathlib import Path

import pytest

from profiles.tagging import TagLibraryError, load_tags

GOOD = """\
id: new_parent
audience: resident
name_zh: 新生儿父母
zh: 近12个月办理了出生登记
en: Registered a birth in the last 12 months
owner: 卫健委
when:
  events: {items: [birth_registration], within: P12M}
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "t.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(TagLibraryError) as info:
        load_tags([tmp_path])
    return [str(p).replace(str(tmp_path) + "/", "") for p in info.value.problems]


def test_the_built_in_library_has_twenty_or_more_tags_for_both_audiences() -> None:
    tags = load_tags()
    assert len(tags) >= 20
    assert {t.audience for t in tags} == {"resident", "enterprise"}
    assert all(t.zh and t.en and t.owner for t in tags)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("birth_registration", "birth_registraton"),
            "t.yaml:8:20: unknown item code 'birth_registraton'; did you mean 'birth_reg",
        ),
        (
            ("within: P12M", "within: 12 months"),
            "t.yaml:8:49: within '12 months' is not a duration",
        ),
        (("events:", "eventz:"), "t.yaml:8:3: unknown condition 'eventz'; did you mean 'events'?"),
        (("owner:", "ownr:"), "t.yaml:6:1: unknown key 'ownr'; did you mean 'owner'?"),
        (("id: new_parent", "id: New-Parent"), "t.yaml:1:5: id must be snake_case"),
    ],
)
def test_problems_are_reported_at_their_place(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    found = problems(tmp_path, GOOD.replace(*change))
    assert any(p.startswith(expected) for p in found), found


def test_field_conditions_check_the_field(tmp_path: Path) -> None:
    text = GOOD.replace(
        "events: {items: [birth_registration], within: P12M}",
        "field: {name: agee, op: '==', value: 79}",
    )
    assert any(
        "unknown field 'agee' for residents; did you mean 'age'?" in p
        for p in problems(tmp_path, text)
    )
