"""Which known name an officer most likely meant: the fix a message suggests.

``difflib``'s ratio suits ASCII names (``agee`` → ``age``) but is harsh on short Chinese words,
where one character in two is already a strong hint (``年纪`` → ``年龄``: ratio 0.5), so a word
with Chinese characters is held to a lower cut-off.

>>> nearest("年纪", ["年龄", "月收入", "性别"])
'年龄'
>>> nearest("agee", ["age", "gender"])
'age'
>>> nearest("育儿家庭", ["新婚", "退休"]) is None
True
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["nearest"]

_ASCII_CUTOFF = 0.6
_CJK_CUTOFF = 0.4


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word``, or None when none is close enough to suggest.

    >>> nearest("retird", ["employed", "retired"])
    'retired'
    >>> nearest("新生儿", ["新生儿父母", "新婚"])
    '新生儿父母'
    """
    names = list(dict.fromkeys(candidates))
    cutoff = _ASCII_CUTOFF if word.isascii() else _CJK_CUTOFF
    found = difflib.get_close_matches(word, names, n=1, cutoff=cutoff)
    if found:
        return found[0]
    folded = {name.casefold(): name for name in names}
    return folded.get(word.casefold())
