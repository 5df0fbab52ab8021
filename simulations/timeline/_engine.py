"""One seed of the timeline: each simulated day, life events, tags, matching and push planning.

Every day the subjects that changed — a drawn transition, a new service event, a birthday (age
is derived, so turning 80 happens on the day) or a firm's founding anniversary — are tagged from
their own events and matched (event-driven: a few hundred subjects a day, not the population).
On the first day of each month the whole population is tagged and matched again: that sweep
catches what changes with no event of its own, chiefly tags whose window passes (``newly_married``
a year after the wedding), so such losses are dated on the 1st.  A policy's ``valid_from`` and
the day after its ``valid_until`` are sweeps too: a policy takes effect on its own day.
What changed (``run_diff``) becomes planner candidates (``notifier.planner.plan``, the
default steps: purpose, dedupe, consent, routing, weekly budget, digest, quiet hours),
planned at 10:00 Beijing time.

The run records values only — every change, every eligibility spell, every item told and
every message by channel; :mod:`simulations.timeline._outcomes` draws behaviour from them.
Changes of subjects who died or whose firm was removed end their spells but are not told.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from matcher.batch import (
    MATCH_SCHEMA,
    GroupFrames,
    linked_frames,
    match_batches,
    plan_policies,
)
from matcher.population import scan_population
from matcher.runs import run_diff
from matcher.units import Links, attribute_units, told_pairs, units_of
from notifier.planner import candidates_from_changes, plan
from notifier.steps import Contact, History, PlanContext, Told
from profiles.schema import Entity, Schema
from profiles.tagging import compute_tags, load_tags
from profiles.tagging.definitions import TagDefinition
from rules.policy import Policy
from simulations.timeline._dynamics import (
    RATES,
    Rates,
    State,
    Transitions,
    apply_day,
    draw_month,
    month_end,
)

__all__ = ["SeedRun", "add_months", "load_state", "run_seed"]

_TZ = ZoneInfo("Asia/Shanghai")
# The phone and e-mail fields of each kind of subject (its key comes from the schema).
_CONTACT = {"resident": ("phone", "email"), "enterprise": ("contact_phone", "contact_email")}


@dataclass(frozen=True, eq=False)
class SeedRun:
    """What one seed's timeline recorded (days are simulated dates)."""

    seed: int
    start: date
    end: date
    changes: pl.DataFrame  # day, subject_id, subject_type, policy_id, change, statuses, benefits
    spells: pl.DataFrame  # subject_id, subject_type, policy_id, status, benefit, start, end
    told: pl.DataFrame  # day, subject_id, policy_id, purpose, channel (items planned)
    messages: pl.DataFrame  # day, channel (one row per planned message)
    profiles: dict[str, pl.DataFrame]  # everyone who was ever present, last known record
    residents: tuple[int, int]  # at the start and at the end
    enterprises: tuple[int, int]


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clipped to the month's end.

    >>> add_months(date(2026, 1, 31), 1)
    datetime.date(2026, 2, 28)
    """
    index = day.year * 12 + day.month - 1 + months
    first = date(index // 12, index % 12 + 1, 1)
    return min(first.replace(day=min(day.day, 28)) + timedelta(days=day.day - min(day.day, 28)),
               month_end(first))  # fmt: skip


def load_state(path: Path, schema: Schema) -> State:
    """The population directory in memory, in schema dtypes (the timeline's day 0)."""
    frames = scan_population(path, schema)
    residents = frames["resident"].collect() if "resident" in frames else None
    enterprises = frames["enterprise"].collect() if "enterprise" in frames else None
    events_path = path / "events.parquet"
    event_schema = schema.event.polars_schema()
    events = (
        pl.read_parquet(events_path).select(
            pl.col(c).cast(t) for c, t in event_schema.items()
        )
        if events_path.is_file()
        else pl.DataFrame(schema=event_schema)
    )  # fmt: skip
    households = frames["household"].collect() if "household" in frames else None
    employments = frames["employment"].collect() if "employment" in frames else None
    return State(
        residents if residents is not None else schema.resident.polars_schema().to_frame(),
        enterprises if enterprises is not None else schema.enterprise.polars_schema().to_frame(),
        events,
        households=households,
        employments=employments,
    )


def _frame(state: State, entity: str) -> pl.DataFrame:
    return state.residents if entity == "resident" else state.enterprises


def _match(
    records: pl.DataFrame, events: pl.DataFrame, entity: Entity, plans: Sequence[object],
    library: Sequence[TagDefinition], day: date, groups: GroupFrames,
) -> list[pl.DataFrame]:  # fmt: skip
    assert entity.key is not None
    if not records.height:
        return []
    if "tags" in records.columns:
        keys = records.select(pl.col(entity.key).alias("subject_id"))
        mine = events.join(keys, on="subject_id", how="semi")
        tags = compute_tags(
            records.lazy(), mine.lazy(), library, entity=entity, as_of=day
        ).collect()
        records = (
            records.drop("tags")
            .join(tags.rename({"subject_id": entity.key}), on=entity.key, how="left")
            .select(records.columns)
        )
    return list(
        match_batches(records.lazy(), entity, plans, as_of=day, groups=groups)  # type: ignore[arg-type]
    )


def _linked(state: State, day: date) -> dict[str, pl.DataFrame]:
    """The day's frames by entity, with the links' aggregates where the population has links
    (``matcher.batch.linked_frames``, as ``zhida match``): a household's size, income per
    capita and children under 3 follow its members that day (a birth, a death, a job lost)."""
    frames = {"resident": state.residents.lazy(), "enterprise": state.enterprises.lazy()}
    if state.households is not None:
        frames["household"] = state.households.lazy()
    if state.employments is not None:
        frames["employment"] = state.employments.lazy()
    return {k: f.collect() for k, f in linked_frames(frames, as_of=day).items()}


def _with_households(state: State, changed: set[str]) -> set[str]:
    """``changed`` and, where the population has households, every member of their households
    and the households themselves: one member's birth, death or lost job is the others' too."""
    residents = state.residents
    if state.households is None or not changed:
        return changed
    wanted = pl.Series(sorted(changed), dtype=pl.String).implode()
    homes = residents.filter(pl.col("person_id").is_in(wanted))["household_id"].drop_nulls()
    members = residents.filter(pl.col("household_id").is_in(homes.implode()))["person_id"]
    return changed | set(homes.to_list()) | set(members.to_list())


def _match_subjects(
    state: State, schema: Schema, plans: Sequence[object], library: Sequence[TagDefinition],
    day: date, subjects: set[str] | None, units: dict[str, tuple[str, str]],
) -> pl.DataFrame:  # fmt: skip
    parts = []
    wanted = None if subjects is None else pl.Series(sorted(subjects), dtype=pl.String)
    frames = _linked(state, day)
    groups = GroupFrames.of({k: f.lazy() for k, f in frames.items()}, schema, as_of=day)
    for name in ("resident", "enterprise", "household"):
        if name not in frames:
            continue
        entity = schema.entity(name)
        assert entity.key is not None
        frame = frames[name]
        if wanted is not None:
            frame = frame.filter(pl.col(entity.key).is_in(wanted.implode()))
        parts += _match(frame, state.events, entity, plans, library, day, groups)
    pairs = pl.concat(parts) if parts else MATCH_SCHEMA.to_frame()
    return _told(pairs, frames, units)


def _told(
    pairs: pl.DataFrame, frames: dict[str, pl.DataFrame], units: dict[str, tuple[str, str]]
) -> pl.DataFrame:
    """``pairs`` as the people told of them see them (``matcher.units``): a household-unit
    policy's members' pairs become one pair of its recipient (the head), so it is told, taken
    up and counted once per household; without household links, as matched."""
    homes = any(unit == "household" for unit, _ in units.values())
    if not homes or "household" not in frames or not pairs.height:
        return pairs
    links = Links.from_frames({k: frames[k].lazy() for k in ("resident", "household")})
    attributed = pl.concat(attribute_units([pairs], units, links))
    return told_pairs(attributed).select(pl.col(c).cast(t) for c, t in MATCH_SCHEMA.items())


def _contacts(state: State, schema: Schema, subjects: set[str]) -> dict[str, Contact]:
    out = {}
    wanted = pl.Series(sorted(subjects), dtype=pl.String).implode()
    for name, (phone, email) in _CONTACT.items():
        key = schema.entity(name).key
        assert key is not None
        rows = _frame(state, name).filter(pl.col(key).is_in(wanted)).select(key, phone, email)
        for subject, ph, em in rows.iter_rows():
            out[subject] = Contact(subject, phone=ph or None, email=em or None)
    return out


class _Teller:
    """Plans each day's changes and keeps what was told (the planner's history)."""

    def __init__(self, policies: Sequence[Policy], schema: Schema) -> None:
        self.policies = {p.id: p for p in policies}
        self.schema = schema
        self.last: dict[tuple[str, str], Told] = {}
        self.times: dict[tuple[str, str, str, str], int] = {}
        self.week: deque[dict[str, int]] = deque(maxlen=7)
        self.told: list[tuple[date, str, str, str, str]] = []
        self.messages: list[tuple[date, str]] = []

    def day(self, day: date, changes: pl.DataFrame, state: State) -> None:
        sent: dict[str, int] = {}
        rows = changes.filter(~pl.col("subject_id").is_in(list(state.gone))).to_dicts()
        candidates = candidates_from_changes(rows, self.policies)
        if candidates:
            subjects = {c.subject_id for c in candidates}
            history = History(
                last=self.last, times=self.times,
                sent_this_week={s: sum(d.get(s, 0) for d in self.week) for s in subjects},
            )  # fmt: skip
            now = datetime.combine(day, time(10), _TZ)
            contacts = _contacts(state, self.schema, subjects)
            result = plan(candidates, PlanContext(now=now, contacts=contacts, history=history))
            for c in result.decisions:
                if c.decision == "suppressed" or c.purpose is None:
                    continue
                when = c.not_before.astimezone(_TZ).date() if c.not_before else day
                self.told.append((when, c.subject_id, c.policy_id, c.purpose, c.channel or "inbox"))
                self.last[(c.subject_id, c.policy_id)] = Told(c.purpose, c.policy_version,
                                                              c.outcome, now)  # fmt: skip
                key = (c.subject_id, c.policy_id, c.policy_version, c.purpose)
                self.times[key] = self.times.get(key, 0) + 1
            for m in result.messages:
                when = m.not_before.astimezone(_TZ).date() if m.not_before else day
                self.messages.append((when, m.channel))
                sent[m.subject_id] = sent.get(m.subject_id, 0) + 1
        self.week.append(sent)


def _own(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy that owns its strings: a filtered slice of a string column keeps the whole
    original buffers alive, so a small frame kept for the whole run would pin each day's
    population-sized buffers (memory growing by megabytes a day)."""
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    buffer.seek(0)
    return pl.read_ipc(buffer)


def _spells(opened: pl.DataFrame, closed: pl.DataFrame) -> pl.DataFrame:
    """Pair the k-th opening of a (subject, policy) with its k-th closing."""
    keys = ["subject_id", "policy_id"]
    k = pl.int_range(pl.len()).over(keys).alias("__k")
    starts = opened.sort("start", maintain_order=True).with_columns(k)
    ends = closed.sort("end", maintain_order=True).with_columns(k)
    return starts.join(ends, on=[*keys, "__k"], how="left").drop("__k")


def run_seed(
    initial: State, policies: Sequence[Policy], schema: Schema, *, start: date, months: int,
    seed: int, rates: Rates = RATES, tell: bool = True,
    progress: Callable[[int], None] | None = None,
) -> SeedRun:  # fmt: skip
    """Move ``initial`` forward ``months`` months from ``start``, one day at a time.

    Day 0 (``start``) is the baseline match: what people are already eligible for is not a
    change.  ``tell=False`` skips planning (the no-push arm needs no messages).
    """
    rng = np.random.default_rng([seed, 11])
    library = load_tags(schema=schema)
    end = add_months(start, months)
    plans = plan_policies(policies, schema, as_of=start)
    state = initial
    units = units_of(policies)
    pairs = _match_subjects(state, schema, plans, library, start, None, units)
    opened = [pairs.select("subject_id", "subject_type", "policy_id", "status", "benefit",
                           pl.lit(None, pl.Date).alias("start"))]  # fmt: skip
    closed: list[pl.DataFrame] = []
    changes: list[pl.DataFrame] = []
    teller = _Teller(policies, schema)
    archive: dict[str, list[pl.DataFrame]] = {"resident": [], "enterprise": []}
    pending: Transitions | None = None
    boundaries = {p.valid_from for p in policies if p.valid_from} | {
        p.valid_until + timedelta(days=1) for p in policies if p.valid_until
    }
    day = start
    while day < end:
        day += timedelta(days=1)
        if day.day == 1 or pending is None:
            drawn = draw_month(state, schema, rng, day, min(month_end(day), end), rates)
            pending = drawn if pending is None else pending.plus(drawn)
        # A policy coming into or going out of force changes everyone's match that day.
        sweep = day.day == 1 or day in boundaries
        if sweep:
            plans = plan_policies(policies, schema, as_of=day)
        before = state
        state, changed = apply_day(state, day, pending.on(day), schema, rng, rates)
        # who died is no longer a member; their household's others are still changed
        changed = _with_households(before, changed) | _with_households(state, changed)
        pending = pending.after(day)
        gone = before.gone ^ state.gone
        if gone:
            for name, kept in archive.items():
                key = schema.entity(name).key
                assert key is not None
                kept.append(_own(_frame(before, name).filter(pl.col(key).is_in(list(gone)))))
        subset = None if sweep else changed
        new = _match_subjects(state, schema, plans, library, day, subset, units)
        old = pairs if sweep else pairs.filter(pl.col("subject_id").is_in(list(changed)))
        diff = _own(
            run_diff(old.lazy(), new.lazy()).collect().with_columns(pl.lit(day).alias("day"))
        )
        pairs = (
            new
            if sweep
            else pl.concat([pairs.filter(~pl.col("subject_id").is_in(list(changed))), new])
        )
        if diff.height:
            changes.append(diff)
            starting = diff.filter(
                pl.col("change").cast(pl.String).is_in(["newly_eligible", "newly_maybe"])
            )
            opened.append(starting.select("subject_id", "subject_type", "policy_id",
                                          pl.col("new_status").cast(pl.String).alias("status"),
                                          pl.col("new_benefit").alias("benefit"),
                                          pl.lit(day).alias("start")))  # fmt: skip
            closed.append(diff.filter(pl.col("change") == "no_longer_eligible").select(
                "subject_id", "policy_id", pl.lit(day).alias("end")))  # fmt: skip
            if tell:
                teller.day(day, diff, state)
        elif tell:
            teller.day(day, diff.head(0), state)
        if progress is not None:
            progress(1)
    profiles = {
        name: pl.concat([*archive[name], _frame(state, name)]).unique(
            schema.entity(name).key, keep="last", maintain_order=True)
        for name in archive
    }  # fmt: skip
    empty_close = pl.DataFrame(
        schema={"subject_id": pl.String, "policy_id": pl.String, "end": pl.Date}
    )
    spells = _spells(
        # the first day's pairs name their subject type as an enum, a run diff's as text
        pl.concat(
            [o.with_columns(pl.col("status", "subject_type").cast(pl.String)) for o in opened]
        ),
        pl.concat(closed) if closed else empty_close,
    )
    return SeedRun(
        seed=seed, start=start, end=end,
        changes=pl.concat(changes) if changes else pl.DataFrame(),
        spells=spells,
        told=pl.DataFrame(teller.told, schema={"day": pl.Date, "subject_id": pl.String,
                          "policy_id": pl.String, "purpose": pl.String, "channel": pl.String},
                          orient="row"),
        messages=pl.DataFrame(teller.messages, schema={"day": pl.Date, "channel": pl.String},
                              orient="row"),
        profiles=profiles,
        residents=(initial.residents.height, state.residents.height),
        enterprises=(initial.enterprises.height, state.enterprises.height),
    )  # fmt: skip
