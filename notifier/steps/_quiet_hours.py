"""Step 7: quiet hours per channel defer a message to the next open window.

The deferral is a not-before time stored on the ledger row — never a long broker delay.

>>> from datetime import UTC, datetime, time
>>> from zoneinfo import ZoneInfo
>>> tz = ZoneInfo("Asia/Shanghai")
>>> next_open(datetime(2026, 1, 1, 22, 30, tzinfo=tz), (time(21), time(8)))
datetime.datetime(2026, 1, 2, 8, 0, tzinfo=zoneinfo.ZoneInfo(key='Asia/Shanghai'))
>>> next_open(datetime(2026, 1, 1, 12, 0, tzinfo=tz), (time(21), time(8))) is None
True
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from notifier.steps._base import Candidate, PlanContext

__all__ = ["QuietHoursStep", "next_open"]


def next_open(local: datetime, window: tuple[time, time]) -> datetime | None:
    """The end of the quiet ``window`` if ``local`` falls in it, else ``None``."""
    start, end = window
    t = local.time().replace(tzinfo=None)
    wraps = start > end
    inside = (t >= start or t < end) if wraps else (start <= t < end)
    if not inside:
        return None
    day = local.date() + timedelta(days=1) if wraps and t >= start else local.date()
    return datetime.combine(day, end, tzinfo=local.tzinfo)


class QuietHoursStep:
    name = "quiet_hours"

    def __call__(
        self, candidates: tuple[Candidate, ...], ctx: PlanContext
    ) -> tuple[Candidate, ...]:
        out = []
        for c in candidates:
            window = ctx.quiet_hours.get(c.channel or "")
            opens = None
            if c.decision != "suppressed" and window is not None:
                opens = next_open(ctx.now.astimezone(ctx.tz), window)
            if opens is None:
                out.append(c)
                continue
            out.append(
                c.but(
                    decision="deferred",
                    not_before=opens.astimezone(ctx.now_utc.tzinfo),
                    reason=(
                        f"{c.channel} quiet hours {window[0]:%H:%M}–{window[1]:%H:%M} "  # type: ignore[index]
                        f"{ctx.tz.key}: deferred to {opens:%Y-%m-%d %H:%M}"
                    ),
                    step=self.name,
                )
            )
        return tuple(out)
