"""Reading YAML that people submit (policies, tag definitions): small, flat, no aliases.

YAML anchors and aliases (``&a`` / ``*a``) let a 700-byte document expand into gigabytes when
it is turned into Python values ("billion laughs"), and nesting is read recursively, so a
document of ``[[[[…]]]]`` exhausts the interpreter's stack.  A policy or a tag never needs
either: this reader refuses any anchor or alias, a document larger than ``max_bytes`` (before
parsing a byte of it) and nesting deeper than ``max_depth``, each with the line and column and
what to write instead.  :class:`RefusedYamlError` is a :class:`yaml.MarkedYAMLError`, so a
caller that reports YAML errors with their position reports these too.

>>> node, data = load_document("id: a\\nmaterials: [x, y]\\n")
>>> data
{'id': 'a', 'materials': ['x', 'y']}
>>> try:
...     load_document("a: &x [1, 2]\\nb: *x\\n")
... except RefusedYamlError as err:
...     print(err.line, err.col, err.problem.split(";")[0])
1 4 YAML anchors and aliases (&name, *name) are not allowed here
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_DEPTH", "MAX_DOCUMENT_BYTES", "RefusedYamlError", "describe_size", "load_document"]

MAX_DOCUMENT_BYTES = 64 * 1024  # one policy or one tag: a few kB; the largest built-in is 1 kB
MAX_DEPTH = 32  # mappings and lists inside each other; a tag's all/any nests a handful


def describe_size(size: int) -> str:
    """A byte count for people.

    >>> describe_size(65536), describe_size(9_437_184), describe_size(703)
    ('64 KiB', '9.0 MiB', '703 bytes')
    """
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size / 1024:.1f} KiB"
    return f"{size} bytes"


class RefusedYamlError(yaml.MarkedYAMLError):
    """Valid YAML this reader refuses (an alias, too large, too deep), with its position."""

    def __init__(self, problem: str, mark: yaml.Mark | None = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.line = mark.line + 1 if mark is not None else 1
        self.col = mark.column + 1 if mark is not None else 1

    def __str__(self) -> str:
        return f"{self.line}:{self.col}: {self.problem}"


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing anchors, aliases and deep nesting as it composes."""

    max_depth = MAX_DEPTH

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise RefusedYamlError(
                "YAML anchors and aliases (&name, *name) are not allowed here; write each "
                "value out in full",
                event.start_mark,
            )
        self._depth += 1
        if self._depth > self.max_depth:
            raise RefusedYamlError(
                f"the document nests lists and mappings more than {self.max_depth} levels "
                "deep; flatten it",
                event.start_mark,
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_document(
    text: str, *, max_bytes: int = MAX_DOCUMENT_BYTES, max_depth: int = MAX_DEPTH
) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for positions) and its Python value, parsed once.

    Raises :class:`RefusedYamlError` for an anchor, an alias, more than ``max_bytes`` of UTF-8
    or nesting deeper than ``max_depth``, and PyYAML's own errors for invalid YAML.
    """
    # A character is at most 4 bytes: only a text near the limit is encoded to measure it.
    size = len(text) if len(text) * 4 <= max_bytes else len(text.encode("utf-8", "replace"))
    if size > max_bytes:
        raise RefusedYamlError(
            f"the document is {describe_size(size)}; the limit is {describe_size(max_bytes)} "
            "(one policy or tag per document: split it, or shorten its texts)"
        )
    loader = _Loader(text)
    loader.max_depth = max_depth
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data
