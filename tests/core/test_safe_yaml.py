"""YAML people submit is read without anchors, aliases, deep nesting or unbounded size."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.safe_yaml import RefusedYamlError, load_document
from profiles.tagging.definitions import TagLibraryError, load_tags


def test_a_plain_document_gives_its_nodes_and_its_value() -> None:
    node, data = load_document("id: a\nlist: [1, 2]\n")
    assert data == {"id": "a", "list": [1, 2]}
    assert node is not None and node.start_mark.line == 0


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("a: &x 1\n", 1, 4),
        ("a: 1\nb: *x\n", 2, 4),
        ("a:\n  - &x {k: v}\n", 2, 5),
    ],
)
def test_anchors_and_aliases_are_refused_where_they_stand(text: str, line: int, col: int) -> None:
    with pytest.raises(RefusedYamlError, match="anchors and aliases") as info:
        load_document(text)
    assert (info.value.line, info.value.col) == (line, col)


def test_nesting_beyond_the_limit_is_refused_without_a_recursion_error() -> None:
    with pytest.raises(RefusedYamlError, match="more than 32 levels deep") as info:
        load_document("a: " + "[" * 5000 + "]" * 5000)
    assert (info.value.line, info.value.col) == (1, 35)  # the 33rd bracket (the mapping is 1)


def test_a_document_over_the_limit_is_refused_before_parsing() -> None:
    with pytest.raises(RefusedYamlError, match=r"is 100 bytes; the limit is 99 bytes"):
        load_document("#" * 100, max_bytes=99)


def test_the_size_limit_counts_utf8_bytes_not_characters() -> None:
    with pytest.raises(RefusedYamlError, match="is 99 bytes"):
        load_document("北" * 33, max_bytes=98)
    assert load_document("北" * 33, max_bytes=99)[1] == "北" * 33


def test_a_tag_definition_with_an_alias_is_refused_at_its_place(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        "id: t\naudience: resident\nname_zh: &n 测试\nzh: *n\nen: x\nowner: y\n"
        "when:\n  events: {items: [birth_registration], within: P12M}\n",
        encoding="utf-8",
    )
    with pytest.raises(TagLibraryError) as info:
        load_tags([tmp_path])
    assert "t.yaml:3:10: YAML anchors and aliases" in str(info.value)
