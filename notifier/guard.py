"""The mass-change guard: whether a run diff may be sent, or must wait for an operator.

A missing or truncated population file does not look like an error to the matcher: it looks
like thousands of people losing their benefits at once.  The guard looks at what a run diff
would end before anything is sent, and holds the plan (recorded, not sent) when:

- for some policy, the share of its offers the run ends is above ``share`` (default 2 %)
  **and** above ``factor`` (3×) the median share that policy ended over its last ``window``
  (6) runs — a policy with natural churn (an age window, a 12-month tag) keeps its rhythm;
  before a policy has runs to compare with, above ``factor`` times the share of offers this
  run starts for it (windows start offers as they end others; a lost file only ends them);
- a policy ending fewer than ``min_ended`` (20) offers is not a mass change, whatever its
  share (three of fifteen is small-number noise, not a lost file);
- or the subjects holding any offer fell by more than ``population_drop`` (5 %) against the
  previous run.

Deliberate acts are not anomalies.  The endings of a policy retired through the review (by
itself, or because a published policy declared that it ``replaces`` it: ``rules.relations``),
of one whose published validity (``valid_until``) ended, and of one that reads a parameter
whose value in force changed since the previous run (the runs record the parameter versions
they read) are let through and noted with their act, so the operator page still shows them.
They release themselves: when the plan is held for something else, the messages that carry
only such endings are sent all the same (:mod:`notifier.holds`).  The decision is
:func:`judge`, a pure function; :func:`guard_run` gathers its inputs from the runs, the
catalog and the policy store.

>>> ends = [PolicyEnding("bj-elderly", offers=1000, ended=950),
...         PolicyEnding("bj-age-window", offers=1000, ended=40)]
>>> history = {"bj-age-window": [0.03, 0.05, 0.04], "bj-elderly": [0.0, 0.002]}
>>> verdict = judge(ends, history, subjects_before=5000, subjects_after=4900)
>>> verdict.held
True
>>> for part in verdict.reasons[0].split(", "):
...     print(part)
bj-elderly: this run ends 950 of 1,000 offers (95.0 %)
above 2.0 % and above 3× its median of 0.1 % over the last 2 runs
>>> print(judge(ends[1:], history, subjects_before=5000, subjects_after=4900).line())
passed: no policy ends an unusual share of its offers and the subjects with an offer fell 2.0 %
>>> acted = judge(ends, history, subjects_before=5000, subjects_after=4900,
...               deliberate={"bj-elderly": "retired through the review (version 3)"})
>>> acted.held, acted.released
(False, ('bj-elderly',))
>>> print(acted.deliberate[0])
bj-elderly: 950 of 1,000 offers end, retired through the review (version 3)
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from datetime import date
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from core.settings import Settings
    from matcher.runs import Run, RunStore
    from rules.policy import Policy

__all__ = ["GuardLimits", "PolicyEnding", "Verdict", "guard_run", "judge"]


@dataclass(frozen=True)
class GuardLimits:
    """The thresholds (``ZHIDA_GUARD_*`` settings)."""

    share: float = 0.02  # a policy's share of offers ended that may be unusual
    factor: float = 3.0  # ... when also above this many times its median share ended
    window: int = 6  # runs whose shares ended make the median
    population_drop: float = 0.05  # subjects with an offer falling by more than this
    min_ended: int = 20  # fewer endings of a policy are never a mass change (small-number noise)

    @classmethod
    def of(cls, settings: Settings) -> GuardLimits:
        return cls(
            share=settings.guard_share,
            factor=settings.guard_factor,
            window=settings.guard_runs,
            population_drop=settings.guard_population_drop,
            min_ended=settings.guard_min_ended,
        )


@dataclass(frozen=True)
class PolicyEnding:
    """A policy's offers in the previous run, and how many of them this run ends."""

    policy_id: str
    offers: int
    ended: int
    started: int = 0  # offers this run made that the previous run did not have

    @property
    def started_share(self) -> float:
        return self.started / self.offers if self.offers else 0.0

    @property
    def share(self) -> float:
        return self.ended / self.offers if self.offers else 0.0


@dataclass(frozen=True)
class Verdict:
    """What the guard decided: held or not, why, and which endings an act let through."""

    held: bool
    reasons: tuple[str, ...] = ()  # why it is held (empty when it passed)
    deliberate: tuple[str, ...] = ()  # endings let through because an act made them
    checked: str = ""  # what passing means, in words
    released: tuple[str, ...] = ()  # the policies of those endings: sent even from a held plan

    def line(self) -> str:
        """One line for a summary: ``held: …`` or ``passed: …``."""
        if self.held:
            return "held: " + "; ".join(self.reasons)
        return "passed: " + self.checked


def _pct(share: float) -> str:
    return f"{share * 100:.1f} %"


def judge(
    endings: Sequence[PolicyEnding],
    history: Mapping[str, Sequence[float]],
    *,
    subjects_before: int,
    subjects_after: int,
    deliberate: Mapping[str, str] | None = None,
    limits: GuardLimits = GuardLimits(),
) -> Verdict:
    """Hold a diff that ends an unusual share of a policy's offers, or loses subjects.

    ``history`` maps a policy to the shares it ended in its previous runs (newest last; only
    the last ``limits.window`` count).  A policy without history is compared with the share
    of its offers this run starts instead (a new deployment's age windows and 12-month tags
    start offers as they end others; a missing file only ends them).  ``deliberate`` maps a
    policy to the act that ends its offers (e.g. its retirement): those endings are noted, not
    guarded, and its subjects are left out of the subject counts, which the caller computes
    likewise.
    """
    deliberate = deliberate or {}
    reasons = []
    noted = []
    released = []
    for e in sorted(endings, key=lambda e: e.policy_id):
        if not e.ended:
            continue
        if e.policy_id in deliberate:
            noted.append(
                f"{e.policy_id}: {e.ended:,} of {e.offers:,} offers end, {deliberate[e.policy_id]}"
            )
            released.append(e.policy_id)
            continue
        past = list(history.get(e.policy_id, ()))[-limits.window :]
        # Before a policy has a history, its rhythm is the share of offers it starts now: a
        # window ends offers as it starts others; a lost file only ends them.
        usual = statistics.median(past) if past else e.started_share
        unusual = e.share > limits.share and e.share > limits.factor * usual
        if unusual and e.ended >= limits.min_ended:
            if past:
                runs = f"run{'s' * (len(past) != 1)}"
                than = f"its median of {_pct(usual)} over the last {len(past)} {runs}"
            else:
                than = f"the {_pct(usual)} it starts (no earlier runs to compare with)"
            reasons.append(
                f"{e.policy_id}: this run ends {e.ended:,} of {e.offers:,} offers "
                f"({_pct(e.share)}), above {_pct(limits.share)} and above "
                f"{limits.factor:g}× {than}"
            )
    drop = (subjects_before - subjects_after) / subjects_before if subjects_before else 0.0
    if drop > limits.population_drop:
        reasons.insert(
            0,
            f"the subjects with an offer fell from {subjects_before:,} to {subjects_after:,} "
            f"({_pct(drop)}, more than {_pct(limits.population_drop)}): is a population file "
            "missing or cut short?",
        )
    checked = "no policy ends an unusual share of its offers and the subjects with an offer " + (
        f"fell {_pct(drop)}" if drop > 0 else "did not fall"
    )
    return Verdict(bool(reasons), tuple(reasons), tuple(noted), checked, tuple(released))


@dataclass(frozen=True)
class _Inputs:
    endings: list[PolicyEnding]
    subjects_before: int
    subjects_after: int
    deliberate: dict[str, str]
    counts: dict[str, tuple[int, int]]  # policy -> (offers, ended), every policy


def guard_run(
    settings: Settings,
    engine: Engine,
    store: RunStore,
    previous: Run,
    pairs_file: Path,
    changes: pl.DataFrame,
    *,
    as_of: date,
    policies: Mapping[str, Policy],
    run_id: int | None = None,
    parameters: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[Verdict, dict[str, tuple[int, int]]]:
    """Judge the diff ``changes`` of ``pairs_file`` against ``previous`` (the I/O edge).

    Offers per policy come from the previous run's pairs, endings from the diff, the history
    of shares ended from the runs store (the runs before ``run_id`` when it is recorded
    already), and the deliberate acts from the catalog (``policies``: a policy whose validity
    ended before ``as_of``), the policy store (a policy retired through the review, or
    replaced by a published one) and the parameter versions the runs read (``parameters``:
    this run's, as :meth:`matcher.runs.RunStore.record` keeps them; default: those recorded
    for ``run_id``).  Returns the verdict and, per policy, (offers, ended): for
    :meth:`matcher.runs.RunStore.keep_endings`, the history of later runs.
    """
    if parameters is None:
        parameters = store.parameters(run_id) if run_id is not None else {}
    read = _Read(store.parameters(previous.run_id), parameters)
    inputs = _gather(engine, store, previous, pairs_file, changes, as_of, policies, read)
    verdict = judge(
        inputs.endings,
        store.ended_shares(GuardLimits.of(settings).window, before=run_id),
        subjects_before=inputs.subjects_before,
        subjects_after=inputs.subjects_after,
        deliberate=inputs.deliberate,
        limits=GuardLimits.of(settings),
    )
    return verdict, inputs.counts


@dataclass(frozen=True)
class _Read:
    """The parameter versions (name → (first day, value)) the previous run and this one read."""

    before: Mapping[str, tuple[str, str]]
    after: Mapping[str, tuple[str, str]]


def _gather(
    engine: Engine, store: RunStore, previous: Run, pairs_file: Path, changes: pl.DataFrame,
    as_of: date, policies: Mapping[str, Policy], read: _Read,
) -> _Inputs:  # fmt: skip
    old = pl.scan_parquet(previous.pairs_file)
    new = pl.scan_parquet(pairs_file)
    offers = dict(old.group_by("policy_id").agg(pl.len()).collect().rows())

    def per_policy(*kinds: str) -> dict[str, int]:
        chosen = changes.filter(pl.col("change").cast(pl.String).is_in(kinds))
        return {str(p): int(n) for p, n in chosen.group_by("policy_id").agg(pl.len()).rows()}

    ended = per_policy("no_longer_eligible")
    started = per_policy("newly_eligible", "newly_maybe")
    current = set(new.select("policy_id").unique().collect()["policy_id"].to_list())
    gone = sorted(p for p in ended if p not in current)
    deliberate = {**_retired(engine, gone, policies), **_expired(policies, gone, as_of)}
    staying = [p for p in sorted(ended) if p in current]
    deliberate.update(_parameter_changes(policies, staying, read))
    kept = pl.col("policy_id").is_in(sorted(deliberate)).not_()

    def subjects(frame: pl.LazyFrame) -> int:
        return int(
            frame.filter(kept)
            .select(pl.struct("subject_type", "subject_id").n_unique())
            .collect()
            .item()
        )

    return _Inputs(
        [PolicyEnding(p, int(offers.get(p, 0)), n, started.get(p, 0)) for p, n in ended.items()],
        subjects(old), subjects(new), deliberate,
        {str(p): (int(n), ended.get(p, 0)) for p, n in offers.items()},
    )  # fmt: skip


def _expired(
    policies: Mapping[str, Policy], policy_ids: Sequence[str], as_of: date
) -> dict[str, str]:
    """Of ``policy_ids``, those whose published validity ended before ``as_of``."""
    out = {}
    for pid in policy_ids:
        until = policies[pid].valid_until if pid in policies else None
        if until is not None and until < as_of:
            out[pid] = f"its validity ended on {until} (valid_until)"
    return out


def _retired(
    engine: Engine, policy_ids: Sequence[str], policies: Mapping[str, Policy]
) -> dict[str, str]:
    """Of ``policy_ids`` (no longer matched), those whose newest version was retired through
    the review, with the act in words: a published policy of ``policies`` that declares it
    ``replaces`` one is named."""
    if not policy_ids:
        return {}
    from rules.store import PolicyStore

    wanted = set(policy_ids)
    newest = {  # ordered by version: the last published or retired one stays
        v.policy_id: v
        for v in PolicyStore(engine).all_versions()
        if v.status in ("published", "retired")
    }
    replaced_by = {
        r.policy_id: (p.id, newest[p.id].version)
        for p in policies.values()
        if p.id in newest and newest[p.id].status == "published"
        for r in p.relations
        if r.kind == "replaces" and r.policy_id in wanted
    }
    out = {}
    for pid in sorted(wanted):
        v = newest.get(pid)
        if v is None or v.status != "retired":
            continue
        if pid in replaced_by:
            by, version = replaced_by[pid]
            out[pid] = (
                f"replaced by {by} (version {version}, published through the review; "
                f"{pid} version {v.version} retired)"
            )
        else:
            out[pid] = f"retired through the review (version {v.version})"
    return out


def _parameter_changes(
    policies: Mapping[str, Policy], policy_ids: Sequence[str], read: _Read
) -> dict[str, str]:
    """Of ``policy_ids`` (still matched), those reading a parameter whose version in force
    differs between the previous run and this one, with the change in words.

    A parameter a run did not record (runs before parameters were kept, or a policy that
    started reading it) is no evidence of a change: those endings stay guarded.
    """
    from rules.parameter_use import parameters_of

    out = {}
    for pid in policy_ids:
        if pid not in policies:
            continue
        changed = [
            f"{name} changed from {read.before[name][0]} ({read.before[name][1]}) to "
            f"{read.after[name][0]} ({read.after[name][1]})"
            for name in sorted(parameters_of(policies[pid]))
            if name in read.before and name in read.after
            and read.before[name][0] != read.after[name][0]
        ]  # fmt: skip
        if changed:
            out[pid] = "a parameter it reads changed: " + "; ".join(changed)
    return out
