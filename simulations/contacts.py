"""Synthetic contact points and preferences for a synthetic population, seeded.

Shares are plausible for Beijing, not measured: most residents have a mobile number on file
(实名制), fewer an e-mail address; firms mostly register an e-mail, some a department-system
webhook.  A few opt out of a channel or of a category, so the planner's reasons show.

>>> rows = synthetic_contacts(["p1", "p2", "p3"], [], seed=1)
>>> [r["subject_id"] for r in rows], {r["locale"] for r in rows} <= {"zh", "en"}
(['p1', 'p2', 'p3'], True)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

__all__ = ["synthetic_contacts"]

_CATEGORIES = ("就业", "养老", "助残", "社会救助", "企业扶持")


def synthetic_contacts(
    residents: Sequence[str],
    enterprises: Sequence[str],
    *,
    seed: int = 1,
    webhook_base: str = "https://gov-systems.example.cn/hooks",
) -> list[dict[str, Any]]:
    """One contact row per subject (the ``contact_points`` columns)."""
    rng = random.Random(seed)
    rows = []
    for pid in residents:
        phone = f"+86138{rng.randrange(10**8):08d}" if rng.random() < 0.85 else None
        email = f"{pid.lower()}@mail.example.cn" if rng.random() < 0.35 else None
        rows.append(
            {
                "subject_id": pid,
                "subject_type": "resident",
                "phone": phone,
                "email": email,
                "webhook_url": None,
                "locale": "en" if rng.random() < 0.03 else "zh",
                "channels": "email,sms" if email and rng.random() < 0.3 else "",
                "opt_out_channels": "sms" if rng.random() < 0.05 else "",
                "opt_out_categories": rng.choice(_CATEGORIES) if rng.random() < 0.04 else "",
            }
        )
    for eid in enterprises:
        has_hook = rng.random() < 0.3
        rows.append(
            {
                "subject_id": eid,
                "subject_type": "enterprise",
                "phone": f"+86139{rng.randrange(10**8):08d}" if rng.random() < 0.5 else None,
                "email": f"{eid.lower()}@corp.example.cn" if rng.random() < 0.7 else None,
                "webhook_url": f"{webhook_base}/{eid}" if has_hook else None,
                "locale": "zh",
                "channels": "",
                "opt_out_channels": "",
                "opt_out_categories": "",
            }
        )
    return rows
