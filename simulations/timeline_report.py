"""A timeline's report as released: what ``zhida simulate timeline --out`` writes.

The command line takes the same disclosure path as the API and the analyst page: the run goes
through :func:`simulations.timeline_release.private_timeline` (each subject's part bounded,
discrete Laplace noise on every released family), and only that release is printed and
written — ``daily.csv``, ``monthly.csv``, ``summary.csv`` and ``report.html`` with the
analyst page's SVG charts (:func:`simulations.timeline_view.timeline_charts`).  The exact
counts of :func:`simulations.timeline.simulate_timeline` never leave the process.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

from simulations.timeline_release import Release, release_lines
from simulations.timeline_view import take_up_rows, timeline_charts

__all__ = ["write_release_report"]

_NOTE = (
    "Every figure is released with differential-privacy noise (OpenDP discrete Laplace), each "
    "subject's part bounded to 3 rows of each kind; an interval is the noise's 95 % interval, "
    "not the spread between seeds. Benefits paid are not released by a timeline. "
    "每个数字都加入了差分隐私噪声；区间为噪声的 95% 区间。"
)


def write_release_report(released: Release, out: Path, *, stamp: Mapping[str, str]) -> list[Path]:
    """Write the released tables and ``report.html`` into ``out``; ``report.html`` is last."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (("daily", released.daily), ("monthly", released.monthly),
                        ("summary", released.summary)):  # fmt: skip
        path = out / f"{name}.csv"
        frame.write_csv(path)
        written.append(path)
    rows = take_up_rows(released.summary)
    arms = [a for a in ("push", "no_push", "effect") if any(r.get(a, "—") != "—" for r in rows)]
    table = "".join(
        "<tr>" + "".join(f"<td>{html.escape(r.get(c, '—'))}</td>" for c in ("metric", *arms))
        + "</tr>"
        for r in rows
    )  # fmt: skip
    stamped = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in stamp.items()
    )
    charts = "".join(
        f"<figure>{svg}</figure>"
        for svg in timeline_charts(released.daily, released.summary, "en")
    )  # fmt: skip
    lines = html.escape("\n".join(release_lines(released)))
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Timeline (released)</title></head><body>"
        f"<h1>Timeline {released.start} → {released.end}</h1><table>{stamped}</table>"
        f"<p>{html.escape(_NOTE)}</p><pre>{lines}</pre>"
        f"<table><tr><th>metric</th>{''.join(f'<th>{a}</th>' for a in arms)}</tr>{table}"
        f"</table>{charts}</body></html>"
    )
    report = out / "report.html"
    report.write_text(page, encoding="utf-8")
    return [*written, report]
