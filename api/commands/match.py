"""``zhida match`` and ``zhida explain``: who qualifies for what, and why."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from api.commands.options import as_of_option, audience_option

if TYPE_CHECKING:
    import polars as pl

    from core.errors import ZhidaError
    from matcher.runs import Run, RunStore
    from notifier import PlanSummary
    from profiles.schema import Entity
    from rules.loader import Catalog
    from rules.policy import Policy

__all__ = ["register"]

_population = click.option(
    "--population",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Population directory (residents.parquet, enterprises.parquet).",
)
_policies = click.option(
    "--policies",
    type=click.Path(path_type=Path),
    multiple=True,
    required=True,
    help="Policy YAML file or catalog directory (repeatable).",
)


@click.command("match")
@click.option(
    "--population",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Population directory (residents.parquet, enterprises.parquet, events.parquet).",
)
@click.option(
    "--from-database",
    is_flag=True,
    help="Match the population loaded into the database (`zhida profiles load`) instead.",
)
@_policies
@as_of_option
@audience_option
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Pairs file."
)
@click.option(
    "--record/--no-record",
    default=True,
    show_default=True,
    help="Record the run in the database and keep its pairs, to compare with the next run.",
)
@click.option(
    "--plan",
    "plan_pushes",
    is_flag=True,
    help="Also plan the pushes of what changed since the previous run, recorded in the same "
    "transaction as the run, and deliver them (as `zhida deliveries plan` does). With "
    "--distributed, whichever process finishes the run records and plans it.",
)
@click.option(
    "--tags/--no-tags",
    default=True,
    show_default=True,
    help="Compute tags from DIR/events.parquet (the library in profiles/tags/) before matching.",
)
@click.option(
    "--rank",
    is_flag=True,
    help="Also write OUT's offers ranked (score, uplift, rank) to OUT.ranked.parquet, by the "
    "latest model (`zhida rank train`), or by the rules when ZHIDA_PERSONALISATION=off.",
)
@click.option(
    "--distributed",
    is_flag=True,
    help="Cut the run into shards for `zhida worker` processes (in-process without Redis).",
)
@click.option(
    "--shard-rows",
    type=click.IntRange(min=1),
    default=250_000,
    show_default=True,
    help="Subjects per shard, with --distributed.",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="With --distributed and Redis: wait for the workers (progress bar), or return at once.",
)
@click.option(
    "--timeout",
    type=float,
    default=3600.0,
    show_default=True,
    help="With --distributed: seconds to wait for the workers before giving up.",
)
def match_cmd(
    population: Path | None,
    from_database: bool,
    policies: tuple[Path, ...],
    as_of: date,
    audience: str | None,
    out: Path,
    record: bool,
    plan_pushes: bool,
    tags: bool,
    rank: bool,
    distributed: bool,
    shard_rows: int,
    wait: bool,
    timeout: float,
) -> None:
    """Match a whole population against the policies in force on the as-of date.

    \b
    Writes one row per (unit, policy) that is eligible or maybe:
      subject_id, subject_type (resident|enterprise|household), policy_id,
      status (eligible|maybe), benefit, unit (person|household|enterprise), recipient_id
    A policy with `unit: household` gives one row per household (its 低保 counted once, not
    per member), told to its contact person or head; `recipient: guardian` tells a child's
    offer to one guardian (guardian_id, else mother_id, else father_id).
    Example:
      zhida match --population pop/ --policies rules/catalog/ --as-of 2026-06-30 --out m.parquet

    \b
    Province-sized runs: --distributed cuts the population into shards of --shard-rows
    subjects, one queue message each; `zhida worker` processes on any machine that shares the
    database (ZHIDA_DATABASE_URL), Redis (ZHIDA_REDIS_URL) and the population directory take
    them, and the run is recorded when the last shard lands (with --plan, together with the
    pushes of its diff, by the process that lands it):
      ZHIDA_REDIS_URL=redis://10.0.0.5:6379/0 zhida match --distributed ... --out m.parquet
    """
    import polars as pl

    from core.errors import ValidationError, ZhidaError
    from matcher.batch import write_pairs
    from matcher.needed_tags import event_tagger
    from matcher.pairs_file import check_output
    from matcher.units import PAIRS_SCHEMA, match_units
    from profiles.schema import load_schema
    from rules.loader import load_catalog

    if (population is not None) == from_database:
        raise ValidationError(
            "say where the population is: --population DIR (Parquet files) or --from-database "
            "(what `zhida profiles load` loaded), one of the two"
        )
    if plan_pushes and not record:
        raise ValidationError(
            "--plan records the run and its pushes together; drop --no-record, or plan later "
            "with `zhida deliveries plan`"
        )
    if rank and population is None:
        raise ValidationError("--rank reads the profiles from --population DIR")
    if distributed and audience is not None:
        # The finisher records a sharded run whole: one audience's would end the other's offers.
        raise ValidationError(
            "--audience is for runs in this process; drop --distributed to match one audience"
        )
    schema = load_schema()
    catalog = load_catalog(policies, schema)
    in_force = tuple(
        p for p in catalog.in_force(as_of) if audience is None or p.audience == audience
    )
    # Everything that can fail is checked before anything is recorded, planned or sent.
    audiences = [a for a in ("resident", "enterprise") if audience in (None, a)]
    if population is not None:
        from profiles.files import require_population_files

        require_population_files(population, audiences, suffixes=(".parquet",))
    check_output(out)
    if record:
        _check_data_directory()
    if distributed:
        if population is None:
            raise ValidationError(
                "--distributed shards population files that every worker can read; give "
                "--population DIR (export the database's population to Parquet first)"
            )
        from api.commands.shards import run_distributed
        from matcher.shards import PlanRequest

        plan = None
        if plan_pushes:
            from core.settings import get_settings
            from notifier.channels.registry import configured_channels

            plan = PlanRequest(configured_channels(get_settings()), catalog.policies)
        run_distributed(
            population=population, in_force=in_force,
            catalog_hash=catalog.content_hash, as_of=as_of, tags=tags, shard_rows=shard_rows,
            out=out, wait=wait, timeout=timeout, plan=plan,
        )  # fmt: skip
        return
    started = time.perf_counter()
    if population is not None:
        from core.settings import get_settings
        from matcher.population import scan_population

        checked = get_settings().data_dir / "link-checks.json"
        frames = scan_population(population, schema, checked=checked)
        source: Path | pl.LazyFrame = population
    else:
        from core.db import get_engine, upgrade
        from matcher.population import read_database

        upgrade(get_engine())
        frames, source = read_database(get_engine(), schema)
        _require_loaded(frames, audiences)
    tagger = event_tagger(source, schema, in_force, as_of=as_of) if tags else None
    pairs = match_units(frames, in_force, schema, as_of=as_of, tagger=tagger)
    try:
        write_pairs(pairs, out, schema=PAIRS_SCHEMA)
    except ZhidaError:
        raise  # an OUT that cannot be written (OutputError) says so itself
    except pl.exceptions.InvalidOperationError as exc:
        raise ValidationError(
            f"the population does not fit the schema ({str(exc).splitlines()[0]}); "
            "check it with `zhida profiles validate`"
        ) from exc
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise _unreadable(population, exc) from exc
    elapsed = time.perf_counter() - started
    counts = pl.scan_parquet(out).group_by("status").agg(pl.len()).collect().rows()
    summary = ", ".join(f"{n:,} {s}" for s, n in sorted(counts))
    households = pl.scan_parquet(out).filter(pl.col("unit") == "household").select(pl.len())
    if (counted := households.collect().item()) and summary:
        summary += f" ({counted:,} of them households', each counted once)"
    click.echo(
        f"{len(in_force)} of {len(catalog.policies)} policies in force on {as_of}; "
        f"{summary or 'no matches'}; wrote {out} in {elapsed:.1f}s"
    )
    modelled = sorted(p.id for p in in_force if p.modelled)
    if modelled and summary:
        under = pl.scan_parquet(out).filter(pl.col("policy_id").is_in(modelled))
        ids = under.select(pl.col("policy_id").unique().sort()).collect()["policy_id"].to_list()
        pairs = under.select(pl.len()).collect().item()
        if pairs:
            click.echo(
                f"modelled: {pairs:,} of the matches are under {len(ids)} modelled policies "
                f"({', '.join(ids)}), whose conditions or amounts are not all cited; "
                "each says why (provenance_note, rules/catalog/SOURCES.md)"
            )
    if record:  # only now that the pairs are safely in place
        try:
            _record(
                out, catalog, in_force, frames, population=population, as_of=as_of,
                elapsed=elapsed, plan_pushes=plan_pushes, audience=audience,
            )  # fmt: skip
        except ZhidaError:
            raise
        except OSError as exc:
            raise _unkept(out, exc) from exc
    if rank:
        assert population is not None
        from api.commands.rank_offers import rank_file

        ranked = out.with_name(out.name.removesuffix(".parquet") + ".ranked.parquet")
        how = rank_file(population, out, policies, as_of, ranked)
        click.echo(f"ranked the offers by {how} → {ranked}")


def _check_data_directory() -> None:
    """Fail now (one line, exit 2) if the run could not be kept: its pairs go under the data
    directory's ``runs/``, and SQLite's file is there too unless ZHIDA_DATABASE_URL says else."""
    import tempfile

    from core.errors import DatabaseError
    from core.settings import get_settings

    settings = get_settings()
    directories = [settings.data_dir / "runs"]
    url = settings.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        directories.append(Path(url.removeprefix("sqlite:///")).parent)
    for directory in directories:
        try:  # SQLite says only "unable to open database file"; the file system says why
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as exc:
            raise DatabaseError(
                f"cannot write to the data directory {directory}: {exc.strerror or exc}; make "
                "it writable and give it space, set ZHIDA_DATA_DIR to a directory that is, "
                "or pass --no-record"
            ) from exc


def _require_loaded(frames: Mapping[str, object], audiences: Sequence[str]) -> None:
    """The database holds the subjects of every audience matched (as a directory must)."""
    from profiles.files import PopulationFilesError

    missing = [a for a in audiences if a not in frames]
    if missing:
        others = [a for a in audiences if a not in missing]
        way_out = f", or pass --audience {others[0]}" if others else ""
        raise PopulationFilesError(
            f"the database holds no {' and no '.join(m + 's' for m in missing)}: every one "
            f"would count as gone; load them with `zhida profiles load DIR`{way_out}"
        )


def _unreadable(population: Path | None, exc: BaseException) -> ZhidaError:
    """A file that failed while it was read (its footer was fine): one line, exit 2."""
    from matcher.population import UnreadableFileError

    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    where = f"a file of {population}" if population is not None else "the population"
    return UnreadableFileError(
        f"{where} could not be read ({first}); a file may be damaged or truncated: copy "
        "or export it again, and check it with `zhida profiles validate`"
    )


def _record(
    out: Path,
    catalog: Catalog,
    in_force: tuple[Policy, ...],
    frames: Mapping[str, pl.LazyFrame],
    *,
    population: Path | None,
    as_of: date,
    elapsed: float,
    plan_pushes: bool,
    audience: str | None,
) -> None:
    """Record the run (and plan and deliver what changed) from the pairs written to ``out``."""
    from core.db import get_engine, upgrade
    from core.settings import get_settings
    from matcher.runs import RunStore, frames_snapshot, population_snapshot

    engine = get_engine()
    upgrade(engine)
    snapshot = (
        population_snapshot(population, cache=get_settings().data_dir / "file-digests.json")
        if population is not None
        else frames_snapshot({k: f.collect() for k, f in frames.items()})
    )
    planned = None
    rule_hashes = {p.id: p.content_hash for p in in_force}
    store = RunStore(engine, get_settings().data_dir)
    pairs, carried = out, None
    if audience is not None and (previous := store.latest()) is not None:
        # One audience's run leaves the other's offers as the previous run had them: recorded
        # without them, the diff would end every one (a run of enterprises revoking residents).
        from matcher.runs import carry_forward

        carried = store.directory / f"{out.stem}.{os.getpid()}.carried.parquet"
        carry_forward(previous.pairs_file, out, audience=audience, into=carried)
        pairs = carried
        mine = {p.id for p in catalog.policies if p.audience == audience}
        kept = store.rule_hashes(previous.run_id).items()
        rule_hashes = {**{k: v for k, v in kept if k not in mine}, **rule_hashes}
        click.echo(f"the {_other(audience)}s' pairs of run {previous.run_id} carried forward")
    try:
        run, planned = _record_pairs(
            pairs, catalog, store, as_of=as_of, snapshot=snapshot, elapsed=elapsed,
            rule_hashes=rule_hashes, population=population, plan_pushes=plan_pushes,
        )  # fmt: skip
    finally:
        if carried is not None:
            carried.unlink(missing_ok=True)
    previous_run = f"; compare with run {run.previous_run_id}: zhida runs diff {run.run_id}"
    click.echo(f"recorded run {run.run_id}" + (previous_run if run.previous_run_id else ""))
    if plan_pushes and planned is None:
        click.echo("the first run: nothing to push until the next run changes something")
    elif planned is not None:
        from api.commands.deliveries import deliver_planned

        deliver_planned(planned)


def _unkept(out: Path, exc: OSError) -> ZhidaError:
    """A data directory that filled up (or went read-only) while the run was kept."""
    from core.errors import DatabaseError

    return DatabaseError(
        f"the run could not be kept in the data directory ({exc.strerror or exc}); {out} is "
        "written but the run is not recorded: make room and run again"
    )


def _other(audience: str) -> str:
    return "enterprise" if audience == "resident" else "resident"


def _record_pairs(
    pairs: Path,
    catalog: Catalog,
    store: RunStore,
    *,
    as_of: date,
    snapshot: str,
    elapsed: float,
    rule_hashes: dict[str, str],
    population: Path | None,
    plan_pushes: bool,
) -> tuple[Run, PlanSummary | None]:
    """Record ``pairs`` as a run, with the plan of its diff when ``plan_pushes``."""
    from datetime import UTC, datetime

    from core.settings import get_settings

    if plan_pushes:
        from notifier.campaign import record_and_plan
        from notifier.channels.registry import configured_channels

        return record_and_plan(
            get_settings(), pairs, catalog.by_id, as_of=as_of,
            catalog_hash=catalog.content_hash, population_id=snapshot,
            started_at=datetime.now(UTC), seconds=elapsed, rule_hashes=rule_hashes,
            population=population, channels=configured_channels(get_settings()),
        )  # fmt: skip
    from rules.parameter_use import run_record

    run = store.record(
        pairs, as_of=as_of, catalog_hash=catalog.content_hash, population=snapshot,
        started_at=datetime.now(UTC), seconds=elapsed, policies=len(rule_hashes),
        rule_hashes=rule_hashes, parameters=run_record(catalog.in_force(as_of), as_of),
    )  # fmt: skip
    return run, None


@click.command("explain")
@_population
@_policies
@as_of_option
@click.option("--policy", "policy_id", required=True, help="Policy id.")
@click.option("--subject", "subject_id", required=True, help="person_id or enterprise_id.")
def explain_cmd(
    population: Path, policies: tuple[Path, ...], as_of: date, policy_id: str, subject_id: str
) -> None:
    """Explain, clause by clause, why SUBJECT is (not, maybe) eligible for POLICY (JSON).

    \b
    A rule over groups (家庭.人均月收入 < 1450, 员工数(...) >= 1) reads the subject's
    household and members, or its staff, from the population's households.parquet and
    employments.parquet. Its explanation adds member_facts (which member's missing field a
    maybe waits for) and group_words: what the household's recipient reads, with figures,
    and what any other member reads (met or not, no figure of a sensitive value).
    Example:
      zhida explain --population pop/ --policies rules/catalog \\
          --policy bj-dibao-invitation --subject P000000042
    """
    from core.errors import NotFoundError, ValidationError
    from matcher.live.source import FileSource, require_subject, tag_library
    from profiles.schema import load_schema
    from rules.evaluator import evaluate_benefit
    from rules.explainer import explain
    from rules.language import parse_rule
    from rules.loader import load_catalog

    schema = load_schema()
    catalog = load_catalog(policies, schema)
    policy = catalog.by_id.get(policy_id)
    if policy is None:
        raise NotFoundError(
            f"no policy {policy_id!r} in {', '.join(map(str, policies))}; see `zhida policies list`"
        )
    subject = require_subject(FileSource(population, schema), subject_id)
    entity, record = subject.entity, subject.tagged(as_of, tag_library(schema))
    if entity.name != policy.audience:
        raise ValidationError(
            f"{policy_id} is for {policy.audience}s but {subject_id} is a {entity.name}"
        )
    derived = subject.derived(as_of, tag_library(schema))
    rule = parse_rule(policy.eligibility, entity)
    benefit_rule = parse_rule(policy.benefit, entity, kind="benefit") if policy.benefit else None
    if rule.groups or (benefit_rule is not None and benefit_rule.groups):
        from matcher.group_context import with_group_context
        from matcher.population import scan_population

        frames = scan_population(population, schema)
        derived = with_group_context(derived, entity, frames, as_of=as_of, schema=schema)
    explanation = explain(rule, derived, as_of=as_of, schema=schema)
    benefit = None
    if benefit_rule is not None and explanation.result is not False:
        amount = evaluate_benefit(benefit_rule, derived, as_of=as_of)
        benefit = None if amount is None else str(amount)
    output: dict[str, object] = {
        "subject_id": subject_id,
        "subject_type": entity.name,
        "policy_id": policy.id,
        "policy_title": policy.title,
        "as_of": as_of.isoformat(),
        "in_force": policy.in_force(as_of),
        "status": explanation.status,
        "benefit": benefit,
        "benefit_period": policy.benefit_period,
        # the figures' source: cited, or modelled with what and why (issue 16)
        "provenance": policy.provenance,
        "provenance_note": policy.provenance_note,
        **{k: v for k, v in explanation.to_dict().items() if k not in ("status",)},
    }
    if rule.groups:  # what the household's recipient reads, and what any other member does
        from rules.group_explainer import plain_group_clauses

        output["group_words"] = {
            who: plain_group_clauses(rule, derived, as_of=as_of, lang="zh", recipient=sees)
            for who, sees in (("recipient", True), ("other_members", False))
        }
    if "tags" in rule.fields:
        output["tag_evidence"] = _tag_evidence(
            population, policy.eligibility, record, entity, subject_id, as_of=as_of
        )
    click.echo(json.dumps(output, ensure_ascii=False, indent=2))


def _tag_evidence(
    population: Path,
    eligibility: str,
    record: dict[str, object],
    entity: Entity,
    subject_id: str,
    *,
    as_of: date,
) -> list[dict[str, object]]:
    """For each tag the rule names: what it means, whether the subject has it, and the events."""
    import polars as pl

    from profiles.tagging import load_tags
    from profiles.tagging.single import tag_evidence

    named = [t for t in load_tags() if f'"{t.id}"' in eligibility or f"'{t.id}'" in eligibility]
    path = population / "events.parquet"
    events = (
        pl.scan_parquet(path).filter(pl.col("subject_id") == subject_id).collect().to_dicts()
        if path.is_file()
        else []
    )
    return [tag_evidence(record, events, t, entity=entity, as_of=as_of) for t in named]


def register(group: click.Group) -> None:
    group.add_command(match_cmd)
    group.add_command(explain_cmd)
