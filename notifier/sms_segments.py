"""How long an SMS is: its encoding (GSM-7 or UCS-2), its length in units, and its segments.

GSM-7 takes 160 characters alone and 153 per part when concatenated (extension characters
count twice); UCS-2, i.e. any Chinese, 70 and 67.  :func:`notifier.render.render` holds an
SMS to the deployment's cap on segments with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["SmsLength", "sms_length"]

_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")  # two septets each (escape + character)


@dataclass(frozen=True)
class SmsLength:
    """An SMS's encoding, its length in that encoding's units, and the segments it takes."""

    encoding: Literal["gsm7", "ucs2"]
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def sms_length(text: str) -> SmsLength:
    """How an SMS of ``text`` is encoded and how many segments it takes.

    >>> sms_length("a" * 160), sms_length("a" * 161).segments
    (SmsLength(encoding='gsm7', units=160, segments=1), 2)
    >>> sms_length("{}" * 40).units  # extension characters count twice
    160
    >>> [sms_length("您" * n).segments for n in (70, 71, 134, 135)]
    [1, 2, 2, 3]
    """
    if all(c in _GSM7 or c in _GSM7_EXTENDED for c in text):
        units = sum(2 if c in _GSM7_EXTENDED else 1 for c in text)
        single, part = 160, 153
        encoding: Literal["gsm7", "ucs2"] = "gsm7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
        encoding = "ucs2"
    segments = 1 if units <= single else math.ceil(units / part)
    return SmsLength(encoding, units, segments)
