"""Simulations: what a policy or a reform would do before it is issued, and what may be shown.

This package decides:

- **what a figure about people shows or withholds** — :mod:`simulations.disclosure`, the one
  small-count rule (a count under 10 as "<10", the cost of so few as "—"), used by every
  figure that leaves Zhida: the dry-run, reach, exports, simulation tables, console, charts;
- **what an aggregate may reveal about one subject** — :mod:`simulations.privacy` (rules that
  read identifiers refused, benefits bounded, differential-privacy noise of every released
  figure), :mod:`simulations.budget` (each user's privacy budget and the releases kept),
  :mod:`simulations.run_release` (a recorded run's reach as released) and
  :mod:`simulations.reach_release` (a reach simulation's tables as released);
- **the reach of a draft or a reform** — :mod:`simulations.preview` (an officer's dry-run of one
  draft, cached by :mod:`simulations.preview_cache`), :mod:`simulations.reform` (a catalog with
  drafts in place and policies retired), :mod:`simulations.reach` (the one-pass simulation),
  :mod:`simulations.reach_job` and :mod:`simulations.reach_results` (as the API and the console
  run and keep it), :mod:`simulations.run_reach` (reach in a recorded match run);
- **the future, day by day** — :mod:`simulations.timeline`, run as a job by
  :mod:`simulations.timeline_job` on a sample (:mod:`simulations.sampling`) and read by
  :mod:`simulations.timeline_view`;
- **simulation jobs** — :mod:`simulations.jobs` stores and runs them (table
  :mod:`simulations.tables`);
- **synthetic worlds** — :mod:`simulations.population` (residents, firms, events),
  :mod:`simulations.behaviour` (who reads, applies, complains), :mod:`simulations.gateways`
  (stand-ins for the far side of the channels);
- **reports** — :mod:`simulations.report` (HTML), :mod:`simulations.charts` (SVG),
  :mod:`simulations.report_png` (PNG).

It may use every package below ``api`` and never ``api`` itself: the HTTP routes, the console
and the CLI call it with stores and paths, never with the API's ``Services``.
"""
