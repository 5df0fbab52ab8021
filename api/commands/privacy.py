"""``zhida privacy budgets|reset``: each user's privacy budget, and starting one afresh.

``budgets`` lists what every user who received a noisy release has spent (ε today, UTC, and
since their last reset) beside the caps, as ``GET /api/v1/privacy/budgets`` does;
``--user U`` shows one user, also one who has spent nothing.  ``reset USER --reason TEXT``
starts a user's budget afresh, as ``POST /api/v1/privacy/budgets/{user}/reset`` does, and is an
audit entry naming who ran it, why, and what had been spent.  Both read
:class:`simulations.budget.PrivacyBudget`.
"""

from __future__ import annotations

import click

__all__ = ["budget_line", "register"]

_HEADER = "user  today / daily cap  lifetime / lifetime cap  left today  releases  last reset"


def _stores() -> tuple[object, object, object]:
    from api.app.audit import AuditLog
    from api.app.auth import UserStore
    from api.app.checkpoints import Checkpoints
    from core.db import get_engine, upgrade
    from simulations.budget import PrivacyBudget

    engine = get_engine()
    upgrade(engine)
    return PrivacyBudget(engine), UserStore(engine), AuditLog(engine, Checkpoints.configured())


def budget_line(s: object) -> str:
    """One user's budget on one line: spent beside the caps, what is left, the last reset.

    >>> from simulations.budget import Spent
    >>> budget_line(Spent("ana", 1.5, 3.25, 30.0, 1000.0, 2, None))
    'ana  1.50 / 30  3.25 / 1000  28.50  2  never'
    """
    from simulations.budget import Spent

    assert isinstance(s, Spent)
    reset = s.last_reset.strftime("%Y-%m-%d %H:%M UTC") if s.last_reset else "never"
    return (
        f"{s.username}  {s.today:.2f} / {s.daily_cap:g}  {s.lifetime:.2f} / {s.lifetime_cap:g}  "
        f"{s.left:.2f}  {s.releases}  {reset}"
    )


@click.group("privacy")
def privacy_group() -> None:
    """Privacy budgets: the ε each user spent on noisy aggregate answers, and resets."""


@privacy_group.command("budgets")
@click.option("--user", "username", default=None, help="Only this user (also one who spent none).")
def budgets_cmd(username: str | None) -> None:
    """List each user's ε spent today (UTC) and since their last reset, beside the caps.

    \b
    Examples:
      zhida privacy budgets
      zhida privacy budgets --user analyst
    """
    from api.app.auth import UserStore
    from simulations.budget import PrivacyBudget

    budget, users, _ = _stores()
    assert isinstance(budget, PrivacyBudget) and isinstance(users, UserStore)
    p = budget.params
    if username is not None:
        users.get(username)  # an unknown user: "no user …; see `zhida users list`"
        found = [budget.spent(username)]
    else:
        found = budget.budgets()
    click.echo(
        f"ε per figure {p.epsilon:g} per {p.unit}; caps {p.daily_cap:g} a day (UTC) and "
        f"{p.lifetime_cap:g} for a lifetime"
    )
    if not found:
        click.echo("nobody has spent privacy budget yet")
        return
    click.echo(_HEADER)
    for s in found:
        click.echo(budget_line(s))


@privacy_group.command("reset")
@click.argument("username")
@click.option("--reason", required=True, help="Why this user may learn more (kept in the audit).")
def reset_cmd(username: str, reason: str) -> None:
    """Start USERNAME's privacy budget afresh (audited with the reason and what was spent).

    \b
    Example:
      zhida privacy reset analyst --reason "new reporting quarter, approved by the DPO"
    """
    from api.app.audit import AuditLog
    from api.app.auth import UserStore
    from api.commands.users import operator
    from simulations.budget import PrivacyBudget, check_reason

    budget, users, audit = _stores()
    assert isinstance(budget, PrivacyBudget) and isinstance(users, UserStore)
    assert isinstance(audit, AuditLog)
    reason = check_reason(reason)
    users.get(username)
    before = budget.reset(username, operator(), reason)
    audit.append(
        actor=operator(), role="cli", action="privacy.reset", entity_type="user",
        entity_id=username, source="cli",
        details={"reason": reason, "spent_today": before.today,
                 "spent_lifetime": before.lifetime, "releases": before.releases},
    )  # fmt: skip
    click.echo(
        f"privacy budget of {username} reset (had spent {before.today:.2f} today, "
        f"{before.lifetime:.2f} in total over {before.releases} release(s)); audited"
    )


def register(group: click.Group) -> None:
    group.add_command(privacy_group)
