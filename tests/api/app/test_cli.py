from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.app.audit import AuditLog
from api.app.auth import UserStore
from api.cli import main
from core.db import get_engine


@pytest.fixture
def db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ZHIDA_DATABASE_URL", sqlite_url)
    return sqlite_url


def test_users_create_stores_an_argon2_hash_and_audits_it(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["users", "create", "wang", "--role", "resident", "--subject", "P1"]
    assert main([*argv, "--password", "s3cret-pass"]) == 0
    assert "user wang created: resident, linked to P1" in capsys.readouterr().out
    engine = get_engine(db)
    user = UserStore(engine).authenticate("wang", "s3cret-pass")
    assert (user.role, user.subject_id, user.subject_type) == ("resident", "P1", "resident")
    from api.app.auth import users

    with engine.connect() as conn:
        stored = conn.execute(users.select()).mappings().one()["password_hash"]
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored
    (entry,) = AuditLog(engine).entries()
    assert (entry.action, entry.entity_id, entry.details["subject_id"]) == (
        "user.create", "wang", "P1",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--role", "resident"], "a resident user needs --subject (their person_id)"),
        (["--role", "officer"], "an officer user needs --department"),
        (["--role", "analyst", "--subject", "P1"], "--subject is only for resident and enterprise"),
    ],
)
def test_users_create_refuses_a_role_without_what_it_needs(
    db: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["users", "create", "li", *argv, "--password", "long-enough"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zhida: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert UserStore(get_engine(db)).list() == []


def test_a_token_printed_by_users_token_opens_the_api(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from litestar.testing import TestClient

    from api.app.app import create_app

    assert main(["users", "create", "ana", "--role", "analyst", "--password", "long-enough"]) == 0
    capsys.readouterr()
    assert main(["users", "token", "ana"]) == 0
    token = capsys.readouterr().out.strip()
    with TestClient(create_app(get_engine(db), data_dir=tmp_path)) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "analyst"
    assert main(["users", "token", "nobody"]) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_zhida_serve_prints_its_address_and_answers_health(db: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "ZHIDA_DATABASE_URL": db}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(f"zhida serving on http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer in 30 s"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        schema = httpx.get(f"http://127.0.0.1:{port}/schema/openapi.json", timeout=5).json()
        assert "/api/v1/subjects/{subject_id}/offers" in schema["paths"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
