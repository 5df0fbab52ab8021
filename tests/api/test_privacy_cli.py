"""``zhida privacy budgets|reset``: budgets beside the caps, and an audited reset."""

from __future__ import annotations

import pytest

from api.cli import main
from simulations.budget import PrivacyBudget


@pytest.fixture
def budget() -> PrivacyBudget:
    """The CLI's database with users analyst (spent 1.5 + 2.25) and officer (spent 0.75)."""
    from api.app.auth import UserStore
    from core.db import get_engine, upgrade

    engine = get_engine()
    upgrade(engine)
    users = UserStore(engine)
    for name, role in (("analyst", "analyst"), ("officer", "officer"), ("idle", "analyst")):
        users.create(name, "a long enough password", role=role, department="北京市民政局")
    b = PrivacyBudget(engine)
    b.charge("analyst", "timeline:1", 1.5)
    b.charge("analyst", "dry_run:2", 2.25)
    b.charge("officer", "dry_run:3", 0.75)
    return b


def test_budgets_lists_each_user_spent_beside_the_caps(
    budget: PrivacyBudget, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["privacy", "budgets"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ε per figure 0.05 per subject; caps 30 a day (UTC) and 1000 for a lifetime"
    assert out[2:] == [
        "analyst  3.75 / 30  3.75 / 1000  26.25  2  never",
        "officer  0.75 / 30  0.75 / 1000  29.25  1  never",
    ]  # most spent today first


def test_budgets_of_one_user_shows_them_even_when_nothing_was_spent(
    budget: PrivacyBudget, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["privacy", "budgets", "--user", "idle"]) == 0
    assert (
        capsys.readouterr().out.splitlines()[2] == "idle  0.00 / 30  0.00 / 1000  30.00  0  never"
    )


def test_budgets_of_an_unknown_user_is_one_line_saying_where_users_are_listed(
    budget: PrivacyBudget, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["privacy", "budgets", "--user", "nobody"]) == 1
    err = capsys.readouterr().err
    assert err == "zhida: error: no user 'nobody'; see `zhida users list`\n"


def test_reset_starts_the_budget_afresh_and_is_audited_with_the_reason(
    budget: PrivacyBudget, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.app.audit import AuditLog

    why = "new reporting quarter, approved by the DPO"
    assert main(["privacy", "reset", "analyst", "--reason", why]) == 0
    assert "had spent 3.75 today, 3.75 in total over 2 release(s)" in capsys.readouterr().out
    after = budget.spent("analyst")
    assert (after.today, after.lifetime, after.releases) == (0.0, 0.0, 0)
    assert budget.spent("officer").today == 0.75  # nobody else's
    (entry,) = [e for e in AuditLog(budget.engine).entries() if e.action == "privacy.reset"]
    assert (entry.role, entry.entity_id, entry.source) == ("cli", "analyst", "cli")
    assert entry.actor.startswith("cli")
    assert entry.details == {"reason": why, "spent_today": 3.75, "spent_lifetime": 3.75,
                             "releases": 2}  # fmt: skip


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["analyst", "--reason", "because"], "a reset needs a reason of at least 10 characters"),
        (["nobody", "--reason", "a good enough reason"], "no user 'nobody'"),
    ],
)
def test_a_reset_without_a_reason_or_of_nobody_is_refused_and_changes_nothing(
    budget: PrivacyBudget, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    from api.app.audit import AuditLog

    assert main(["privacy", "reset", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"zhida: error: {expected}") and err.count("\n") == 1
    assert budget.spent("analyst").today == 3.75
    assert not [e for e in AuditLog(budget.engine).entries() if e.action == "privacy.reset"]


def test_a_reset_without_reason_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["privacy", "reset", "analyst"]) == 2
    assert "--reason" in capsys.readouterr().err
