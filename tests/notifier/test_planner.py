"""Every planner step, as tables: given candidates and a context, the decision and its reason."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest

from notifier.planner import candidates_from_changes, item_key, plan
from notifier.steps import (
    DEFAULT_STEPS,
    BudgetStep,
    Candidate,
    ConsentStep,
    Contact,
    DedupeStep,
    DigestStep,
    History,
    PlanContext,
    PurposeStep,
    QuietHoursStep,
    RoutingStep,
    Told,
)

NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Beijing


def cand(**kw: object) -> Candidate:
    base: dict[str, object] = {
        "subject_id": "p1", "subject_type": "resident", "policy_id": "pol", "policy_version": "v1",
        "mode": "proactive_push", "change": "newly_eligible", "old_status": None,
        "new_status": "eligible",
    }  # fmt: skip
    base.update(kw)
    return Candidate(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "change", "old", "new", "purpose"),
    [
        ("auto_grant", "newly_eligible", None, "eligible", "grant_notice"),
        ("auto_grant", "maybe_to_eligible", "maybe", "eligible", "grant_notice"),
        ("auto_grant", "benefit_changed", "eligible", "eligible", "grant_notice"),
        ("auto_grant", "no_longer_eligible", "eligible", None, "revocation_notice"),
        ("auto_grant", "no_longer_eligible", "maybe", None, None),
        ("auto_grant", "eligible_to_maybe", "eligible", "maybe", "maybe_question"),
        ("auto_grant", "newly_maybe", None, "maybe", "maybe_question"),
        ("proactive_push", "newly_eligible", None, "eligible", "invitation"),
        ("proactive_push", "newly_maybe", None, "maybe", "maybe_question"),
        ("proactive_push", "no_longer_eligible", "eligible", None, None),
        ("proactive_push", "benefit_changed", "eligible", "eligible", None),
        ("proactive_push", "eligible_to_maybe", "eligible", "maybe", None),
        ("fast_track", "newly_eligible", None, "eligible", "fast_track_invitation"),
        ("fast_track", "maybe_to_eligible", "maybe", "eligible", "fast_track_invitation"),
    ],
)
def test_purpose_follows_mode_and_change(
    mode: str, change: str, old: str | None, new: str | None, purpose: str | None
) -> None:
    c = cand(mode=mode, change=change, old_status=old, new_status=new)
    (out,) = PurposeStep()((c,), PlanContext(now=NOON))
    assert out.purpose == purpose
    assert (out.decision == "suppressed") == (purpose is None)
    if purpose is None:
        assert out.reason and out.step == "purpose"


AT = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("told", "version", "benefit", "suppressed", "reason"),
    [
        (None, "v1", None, False, ""),
        (Told("invitation", "v1", "eligible:", AT), "v1", None, True, "already told"),
        (Told("invitation", "v1", "eligible:", AT), "v2", None, True, "outcome is the same"),
        (Told("invitation", "v1", "eligible:100", AT), "v2", Decimal(200), False, ""),
        (Told("revocation_notice", "v1", "none", AT), "v1", None, False, ""),  # regained
    ],
)
def test_dedupe_tells_once_per_version_and_only_a_changed_outcome(
    told: Told | None, version: str, benefit: Decimal | None, suppressed: bool, reason: str
) -> None:
    c = cand(purpose="invitation", policy_version=version, new_benefit=benefit)
    history = History(last={("p1", "pol"): told} if told else {})
    (out,) = DedupeStep()((c,), PlanContext(now=NOON, history=history))
    assert (out.decision == "suppressed") == suppressed
    assert reason in out.reason


def test_dedupe_counts_earlier_tellings_into_the_key_so_a_regained_grant_is_told_again() -> None:
    c = cand(purpose="grant_notice")
    history = History(
        last={("p1", "pol"): Told("revocation_notice", "v1", "none", AT)},
        times={("p1", "pol", "v1", "grant_notice"): 1},
    )
    (out,) = DedupeStep()((c,), PlanContext(now=NOON, history=history))
    assert out.sequence == 1 and item_key(out) != item_key(c)


def test_dedupe_drops_the_same_change_twice_in_one_plan() -> None:
    c = cand(purpose="invitation")
    out = DedupeStep()((c, c), PlanContext(now=NOON))
    assert [o.decision for o in out] == ["planned", "suppressed"]


@pytest.mark.parametrize(
    ("purpose", "category", "opt_out", "suppressed"),
    [
        ("invitation", "就业", frozenset({"就业"}), True),
        ("invitation", "养老", frozenset({"就业"}), False),
        ("invitation", None, frozenset({"*"}), True),
        ("maybe_question", "就业", frozenset({"*"}), True),
        ("grant_notice", "就业", frozenset({"就业", "*"}), False),  # administrative act
        ("revocation_notice", None, frozenset({"*"}), False),
    ],
)
def test_consent_honours_category_opt_outs_but_never_silences_grants(
    purpose: str, category: str | None, opt_out: frozenset[str], suppressed: bool
) -> None:
    c = cand(purpose=purpose, category=category)
    ctx = PlanContext(now=NOON, contacts={"p1": Contact("p1", opt_out_categories=opt_out)})
    (out,) = ConsentStep()((c,), ctx)
    assert (out.decision == "suppressed") == suppressed


@pytest.mark.parametrize(
    ("contact", "subject_type", "configured", "channel", "note"),
    [
        (Contact("p1", phone="138"), "resident", {"sms"}, "sms", None),
        (Contact("p1", email="a@b.cn"), "resident", {"sms", "email"}, "email", "no phone"),
        (Contact("p1", phone="138", opt_out_channels=frozenset({"sms"})), "resident",
         {"sms"}, "inbox", "opted out"),
        (Contact("p1", phone="138"), "resident", {"email"}, "inbox", "not configured"),
        (Contact("p1", phone="138", email="a@b.cn", channels=("email", "sms")), "resident",
         {"sms", "email"}, "email", None),
        (Contact("p1", phone="138", channels=("inbox",)), "resident", {"sms"}, "inbox", None),
        (Contact("e1", webhook_url="https://x.cn/h", email="e@x.cn"), "enterprise",
         {"webhook", "email"}, "webhook", None),
        (None, "resident", {"sms"}, "inbox", "no contact points"),
    ],
)  # fmt: skip
def test_routing_picks_the_first_preferred_reachable_channel(
    contact: Contact | None, subject_type: str, configured: set[str], channel: str,
    note: str | None,
) -> None:  # fmt: skip
    c = cand(purpose="invitation", subject_type=subject_type)
    contacts = {"p1": contact} if contact else {}
    ctx = PlanContext(now=NOON, contacts=contacts, channels=frozenset(configured))
    (out,) = RoutingStep()((c,), ctx)
    assert out.channel == channel
    if note:
        assert any(note in n for n in out.notes)


@pytest.mark.parametrize(
    ("used", "budget", "purpose", "suppressed"),
    [
        (0, 2, "invitation", False),
        (1, 2, "invitation", False),
        (2, 2, "invitation", True),
        (5, 2, "maybe_question", True),
        (5, 2, "grant_notice", False),
        (5, 2, "revocation_notice", False),
        (0, 0, "invitation", True),
    ],
)
def test_budget_drops_invitations_beyond_the_weekly_budget_but_never_grants(
    used: int, budget: int, purpose: str, suppressed: bool
) -> None:
    c = cand(purpose=purpose)
    ctx = PlanContext(now=NOON, weekly_budget=budget, history=History(sent_this_week={"p1": used}))
    (out,) = BudgetStep()((c,), ctx)
    assert (out.decision == "suppressed") == suppressed


def test_digest_keeps_the_highest_priority_offers_and_every_grant() -> None:
    offers = [cand(policy_id=f"i{i}", purpose="invitation", priority=float(i)) for i in range(4)]
    grants = [cand(policy_id=f"g{i}", purpose="grant_notice", priority=-1.0) for i in range(3)]
    out = DigestStep()(tuple(offers + grants), PlanContext(now=NOON, digest_max_items=4))
    kept = [c.policy_id for c in out if c.decision != "suppressed"]
    assert kept == ["g0", "g1", "g2", "i3"]
    dropped = [c for c in out if c.decision == "suppressed"]
    assert {c.policy_id for c in dropped} == {"i0", "i1", "i2"}
    assert all("digest limit" in c.reason for c in dropped)


@pytest.mark.parametrize(
    ("utc", "channel", "deferred_to"),
    [
        (datetime(2026, 3, 2, 4, 0, tzinfo=UTC), "sms", None),  # 12:00
        (datetime(2026, 3, 2, 13, 0, tzinfo=UTC), "sms", "2026-03-03T00:00"),  # 21:00
        (datetime(2026, 3, 2, 16, 0, tzinfo=UTC), "sms", "2026-03-03T00:00"),  # 00:00
        (datetime(2026, 3, 2, 23, 59, tzinfo=UTC), "sms", "2026-03-03T00:00"),  # 07:59
        (datetime(2026, 3, 3, 0, 0, tzinfo=UTC), "sms", None),  # 08:00: open
        (datetime(2026, 3, 2, 13, 0, tzinfo=UTC), "email", None),
        (datetime(2026, 3, 2, 13, 0, tzinfo=UTC), "inbox", None),
    ],
)
def test_quiet_hours_defer_to_the_next_open_window_in_beijing_time(
    utc: datetime, channel: str, deferred_to: str | None
) -> None:
    c = cand(purpose="invitation", channel=channel)
    (out,) = QuietHoursStep()((c,), PlanContext(now=utc))
    if deferred_to is None:
        assert out.decision == "planned" and out.not_before is None
    else:
        assert out.decision == "deferred"
        assert out.not_before is not None
        assert (
            out.not_before.astimezone(UTC).isoformat(timespec="minutes") == deferred_to + "+00:00"
        )
        assert "quiet hours 21:00–08:00 Asia/Shanghai" in out.reason


def test_quiet_hours_within_one_day() -> None:
    ctx = PlanContext(
        now=datetime(2026, 3, 2, 5, 0, tzinfo=UTC), quiet_hours={"email": (time(12), time(14))}
    )
    (out,) = QuietHoursStep()((cand(purpose="invitation", channel="email"),), ctx)
    assert out.not_before == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def test_plan_makes_one_digest_per_person_with_a_stable_key() -> None:
    items = [cand(policy_id=p) for p in ("a", "b")] + [cand(subject_id="p2")]
    ctx = PlanContext(now=NOON, contacts={"p1": Contact("p1", phone="138")})
    first, again = plan(items, ctx), plan(list(reversed(items)), ctx)
    assert [(m.subject_id, m.channel, len(m.items)) for m in first.messages] == [
        ("p1", "sms", 2), ("p2", "inbox", 1),
    ]  # fmt: skip
    assert [m.idempotency_key for m in first.messages] == [
        m.idempotency_key for m in again.messages
    ]
    assert first.messages[0].purpose == "invitation"  # two invitations: one purpose


def test_every_suppression_names_its_step_and_reason() -> None:
    items = [
        cand(change="no_longer_eligible", old_status="eligible", new_status=None),
        cand(policy_id="x", category="就业"),
    ]
    ctx = PlanContext(
        now=NOON, contacts={"p1": Contact("p1", opt_out_categories=frozenset({"就业"}))}
    )
    out = plan(items, ctx, DEFAULT_STEPS)
    assert [(d.step, bool(d.reason)) for d in out.decisions] == [
        ("purpose", True),
        ("consent", True),
    ]
    assert out.messages == ()


class _Policy:
    def __init__(self, mode: str) -> None:
        self.mode, self.category, self.content_hash = mode, "养老", "h" * 64


def test_candidates_from_changes_take_version_mode_and_priority_from_inputs() -> None:
    rows: list[dict[str, object]] = [
        {"subject_id": "p1", "subject_type": "resident", "policy_id": "a",
         "change": "newly_eligible", "old_status": None, "new_status": "eligible",
         "old_benefit": None, "new_benefit": 100.5},
        {"subject_id": "p1", "subject_type": "resident", "policy_id": "gone",
         "change": "newly_eligible", "old_status": None, "new_status": "eligible"},
    ]  # fmt: skip
    out = candidates_from_changes(rows, {"a": _Policy("auto_grant")}, {("p1", "a"): 0.7})
    assert len(out) == 1
    assert (out[0].mode, out[0].policy_version, out[0].priority) == ("auto_grant", "h" * 64, 0.7)
    assert out[0].new_benefit == Decimal("100.5")
