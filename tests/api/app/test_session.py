from __future__ import annotations

from pathlib import Path

import pytest

from api.app.access import SESSION_COOKIE
from tests.api.app.world import PASSWORD, World


def test_login_sets_a_secure_httponly_samesite_strict_session_cookie(world: World) -> None:
    # The app in the world runs with secure_cookies=False (plain-HTTP test client); the flag
    # itself is checked on an app built with the default below.
    response = world.client.post(
        "/api/v1/login", json={"username": "resident", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["subject_id"] == "P1"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    me = world.client.get("/api/v1/me")
    assert me.json()["username"] == "resident"


def test_the_default_app_marks_the_session_cookie_secure(sqlite_url: str, tmp_path: Path) -> None:
    from litestar.testing import TestClient

    from api.app.app import create_app
    from api.app.auth import UserStore
    from core.db import get_engine, upgrade
    from tests.api.app.world import FAST

    engine = get_engine(sqlite_url)
    upgrade(engine)
    UserStore(engine, FAST).create("wang", PASSWORD, role="analyst")
    with TestClient(create_app(engine, data_dir=tmp_path, hasher=FAST)) as client:
        response = client.post("/api/v1/login", json={"username": "wang", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_a_wrong_password_is_refused_with_one_message_for_every_failure(world: World) -> None:
    login = "/api/v1/login"
    wrong = world.client.post(login, json={"username": "resident", "password": "nope!!!!"})
    nobody = world.client.post(login, json={"username": "ghost", "password": "nope!!!!"})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json()
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")


def test_logout_revokes_the_session_not_only_the_cookie(world: World) -> None:
    world.client.post("/api/v1/login", json={"username": "resident", "password": PASSWORD})
    secret = world.client.cookies[SESSION_COOKIE]
    assert world.client.post("/api/v1/logout").status_code == 200
    world.client.cookies.set(SESSION_COOKIE, secret)  # a stolen copy of the cookie
    again = world.client.get("/api/v1/me")
    assert again.status_code == 401
    assert again.json()["error"]["type"] == "AuthenticationError"


def test_a_bearer_token_identifies_the_user_and_a_bad_one_is_refused(world: World) -> None:
    ok = world.client.get("/api/v1/me", headers=world.as_("officer"))
    assert ok.json() == {
        "username": "officer", "role": "officer", "department": "北京市民政局",
        "subject_id": None, "subject_type": None,
    }  # fmt: skip
    bad = world.client.get("/api/v1/me", headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401
    basic = world.client.get("/api/v1/me", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401
    assert "Bearer TOKEN" in basic.json()["error"]["message"]


def test_an_expired_token_is_refused(world: World) -> None:
    from api.app.auth import UserStore

    users = UserStore(world.engine)
    stale = users.issue(users.get("analyst"), hours=-1)
    response = world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {stale}"})
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_zhida_users_disable_locks_out_tokens_and_logins(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.cli import main

    monkeypatch.setenv("ZHIDA_DATABASE_URL", str(world.engine.url))
    assert main(["users", "disable", "analyst"]) == 0
    assert world.client.get("/api/v1/me", headers=world.as_("analyst")).status_code == 401
    login = world.client.post("/api/v1/login", json={"username": "analyst", "password": PASSWORD})
    assert login.status_code == 401
    assert world.client.get("/api/v1/me", headers=world.as_("officer")).status_code == 200


def test_repeated_wrong_passwords_lock_the_username_for_a_while(world: World) -> None:
    login = "/api/v1/login"
    for _ in range(5):
        wrong = world.client.post(login, json={"username": "officer", "password": "guess-123"})
        assert wrong.status_code == 401
    right = world.client.post(login, json={"username": "officer", "password": PASSWORD})
    assert right.status_code == 429
    assert "too many failed logins for 'officer'" in right.json()["error"]["message"]
    # others are not affected
    other = world.client.post(login, json={"username": "reviewer", "password": PASSWORD})
    assert other.status_code == 200


# ---------------------------------------------------------------- tokens expire, revoked one by one


def _cli(world: World, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    from api.cli import main

    monkeypatch.setenv("ZHIDA_DATABASE_URL", str(world.engine.url))
    return main(list(args))


def _token(world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           *args: str) -> tuple[str, str]:  # fmt: skip
    capsys.readouterr()
    assert _cli(world, monkeypatch, "users", "token", "analyst", *args) == 0
    captured = capsys.readouterr()
    return captured.out.strip(), captured.err


def test_a_token_made_without_hours_expires_after_the_configured_days(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.app.auth import UserStore

    def lifetime() -> float:
        (newest, *_) = UserStore(world.engine).tokens("analyst")
        assert newest.expires_at is not None
        return (newest.expires_at - newest.created_at).total_seconds() / 86400

    secret, err = _token(world, monkeypatch, capsys)
    assert "expires in 720 hours" in err
    assert lifetime() == pytest.approx(30)
    assert world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).is_success
    monkeypatch.setenv("ZHIDA_TOKEN_DAYS", "2")
    _token(world, monkeypatch, capsys)
    assert lifetime() == pytest.approx(2)
    assert _cli(world, monkeypatch, "users", "token", "analyst", "--hours", "0") == 2


def test_one_token_is_revoked_by_its_id_and_the_others_keep_working(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.app.audit import AuditLog

    first, err = _token(world, monkeypatch, capsys, "--name", "reports")
    ident = err.split()[1]
    second, _ = _token(world, monkeypatch, capsys, "--name", "etl")
    assert _cli(world, monkeypatch, "users", "tokens", "analyst") == 0
    listed = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [ident, "token", "reports"] == next(r[:3] for r in listed if r[0] == ident)
    assert all(r[-1] == "active" for r in listed)
    assert _cli(world, monkeypatch, "users", "revoke", ident) == 0
    assert f"token {ident} (reports) of analyst revoked" in capsys.readouterr().out
    me = "/api/v1/me"
    assert world.client.get(me, headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert world.client.get(me, headers={"Authorization": f"Bearer {second}"}).is_success
    assert world.client.get(me, headers=world.as_("analyst")).is_success
    _cli(world, monkeypatch, "users", "tokens", "analyst")
    states = {r.split("\t")[0]: r.split("\t")[-1] for r in capsys.readouterr().out.splitlines()}
    assert states[ident] == "revoked"
    (entry,) = AuditLog(world.engine).entries(entity_id="analyst", limit=1)
    assert (entry.action, entry.details["id"]) == ("token.revoke", ident)


def test_revoking_an_unknown_token_id_says_how_to_find_one(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(world, monkeypatch, "users", "revoke", "0123456789ab") == 1
    assert "no token 0123456789ab; `zhida users tokens USER` lists" in capsys.readouterr().err
    assert _cli(world, monkeypatch, "users", "revoke", "not-an-id") == 1
    assert "is not a token id (12 hex digits)" in capsys.readouterr().err


def _legacy(world: World, username: str, *, kind: str, days_old: float) -> str:
    """A secret as made before tokens expired by default: no expiry stored."""
    import secrets
    from datetime import UTC, datetime, timedelta

    from api.app.auth import UserStore, api_tokens, digest

    secret = secrets.token_urlsafe(32)
    made = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days_old)
    with world.engine.begin() as conn:
        conn.execute(
            api_tokens.insert().values(
                token_hash=digest(secret), user_id=UserStore(world.engine).get(username).id,
                kind=kind, name="legacy", created_at=made, expires_at=None,
            )
        )  # fmt: skip
    return secret


def test_a_token_without_expiry_lapses_the_default_lifetime_after_it_was_made(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _legacy(world, "analyst", kind="token", days_old=31)
    recent = _legacy(world, "analyst", kind="token", days_old=29)
    me = "/api/v1/me"
    refused = world.client.get(me, headers={"Authorization": f"Bearer {old}"})
    assert refused.status_code == 401
    message = refused.json()["error"]["message"]
    assert (
        "before tokens expired by default" in message and "30 day(s) after it was made" in message
    )
    assert "zhida users token" in message
    assert world.client.get(me, headers={"Authorization": f"Bearer {recent}"}).is_success
    # The listing says when each lapses and that the old one has.
    capsys.readouterr()
    assert _cli(world, monkeypatch, "users", "tokens", "analyst") == 0
    states = sorted(
        r.split("\t")[-1] for r in capsys.readouterr().out.splitlines() if "legacy" in r
    )
    assert states == ["active", "expired"]
    # A shorter configured lifetime applies to them too.
    from api.app.auth import UserStore
    from api.app.errors import AuthenticationError

    assert UserStore(world.engine).resolve(recent, kind="token").username == "analyst"
    with pytest.raises(AuthenticationError, match="20 day"):
        UserStore(world.engine, token_days=20).resolve(recent, kind="token")


def test_a_session_without_expiry_lapses_after_a_sessions_lifetime(world: World) -> None:
    from api.app.auth import SESSION_HOURS

    stale = _legacy(world, "resident", kind="session", days_old=SESSION_HOURS / 24 + 1)
    world.client.cookies.set(SESSION_COOKIE, stale)
    refused = world.client.get("/api/v1/me")
    assert refused.status_code == 401
    assert "log in again" in refused.json()["error"]["message"]
    fresh = _legacy(world, "resident", kind="session", days_old=0)
    world.client.cookies.set(SESSION_COOKIE, fresh)
    assert world.client.get("/api/v1/me").json()["username"] == "resident"
