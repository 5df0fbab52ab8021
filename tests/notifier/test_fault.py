"""The fault test: a campaign of 10,000 messages — SMS, e-mail and webhooks — survives a
SIGKILLed worker, a flushed Redis, an SMS gateway failing 30 % of requests, and far sides that
take 3 % of messages and then lose the answer (the sender is in doubt): every planned message is
delivered exactly once, counted from the SMS gateway's, the SMTP server's and the webhook
receiver's own receipts.

Each in-doubt path can fail it: without the lookups (the status queries a worker in doubt asks
first) the messages whose answer was lost, or whose worker was killed mid-send, are sent twice.
``make fault`` runs it three times on a machine kept busy by CPU hogs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.settings import Settings
from notifier.channels.smtp import message_id
from simulations.gateways import SmsGateway, SmtpSink, WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = int(os.environ.get("FAULT_MESSAGES", "10000"))
SECRET = "fault-secret"
LOST = 0.03  # the share of messages each far side takes and then loses the answer to

StandIns = tuple[SmsGateway, SmtpSink, WebhookReceiver]


@pytest.fixture
def stand_ins() -> Iterator[StandIns]:
    with (
        SmsGateway(failure_rate=0.3, hang_up_rate=LOST, seed=7) as gateway,
        SmtpSink(failure_rate=0.05, hang_up_rate=LOST, seed=8) as sink,
        WebhookReceiver(SECRET, failure_rate=0.05, hang_up_rate=LOST, seed=9) as receiver,
    ):
        yield gateway, sink, receiver


def _contact(i: int, subject: str, webhook: str) -> dict[str, str | None]:
    """Three in five by SMS, one by e-mail, one by webhook."""
    kind = ("sms", "sms", "sms", "email", "webhook")[i % 5]
    return {
        "subject_id": subject,
        "phone": f"+86138{i:08d}" if kind == "sms" else None,
        "email": f"{subject.lower()}@mail.example.cn" if kind == "email" else None,
        "webhook_url": webhook if kind == "webhook" else None,
        "channels": kind,
    }


def _plan_campaign(settings: Settings, webhook: str) -> tuple[list[int], dict[str, str]]:
    from core.db import get_engine, upgrade
    from notifier.contacts import ContactStore
    from notifier.dispatch import plan_changes
    from rules.loader import load_catalog

    engine = get_engine(settings.database_url)
    upgrade(engine)
    policies = load_catalog([ROOT / "rules" / "catalog"]).by_id
    ids = [f"R{i:06d}" for i in range(MESSAGES)]
    ContactStore(engine).replace(_contact(i, s, webhook) for i, s in enumerate(ids))
    changes = (
        {"subject_id": s, "subject_type": "resident", "policy_id": "bj-elderly-card",
         "change": "newly_eligible", "old_status": None, "new_status": "eligible"}
        for s in ids
    )  # fmt: skip
    summary = plan_changes(
        engine, changes, policies, cause="fault campaign", as_of=date(2026, 3, 2),
        now=datetime.now(UTC), settings=settings,
    )  # fmt: skip
    assert summary.messages == MESSAGES and summary.decisions["planned"] == MESSAGES
    with engine.connect() as conn:
        from notifier.tables import outbox

        keys = dict(conn.execute(sa.select(outbox.c.idempotency_key, outbox.c.channel)).all())
    return list(summary.due_ids), keys


def _progress(database_url: str) -> dict[str, int]:
    from core.db import get_engine
    from notifier.tables import outbox

    with get_engine(database_url).connect() as conn:
        rows = conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status))
        return {s: int(n) for s, n in rows}


def _children(pid: int) -> list[int]:
    import psutil

    return [c.pid for c in psutil.Process(pid).children()]


@pytest.mark.slow
@pytest.mark.timeout(960)
def test_a_campaign_survives_a_killed_worker_a_flushed_redis_and_a_failing_gateway(
    postgres_url: str,
    redis_url: str,
    stand_ins: StandIns,
    tmp_path: Path,
) -> None:
    import redis

    from core.broker import configure_broker
    from notifier.actors import enqueue
    from notifier.outbox import Outbox

    gateway, sink, receiver = stand_ins
    env = {
        **os.environ,
        "ZHIDA_DATABASE_URL": postgres_url, "ZHIDA_REDIS_URL": redis_url,
        "ZHIDA_SMS_GATEWAY_URL": gateway.url, "ZHIDA_SMS_STATUS_URL": gateway.status_url,
        "ZHIDA_SMTP_HOST": sink.host, "ZHIDA_SMTP_STATUS_URL": sink.status_url,
        "ZHIDA_SMTP_PORT": str(sink.port), "ZHIDA_WEBHOOK_SECRET": SECRET,
        "ZHIDA_QUIET_HOURS": "", "ZHIDA_CHANNEL_TIMEOUT": "2",
        "ZHIDA_DELIVERY_ATTEMPTS": "15", "ZHIDA_RETRY_BACKOFF": "0.2", "FAULT_LEASE": "5",
    }  # fmt: skip
    settings = Settings.from_env(env)
    due, keys = _plan_campaign(settings, receiver.url)
    configure_broker(redis_url)
    from core.db import get_engine

    enqueue(due, outbox=Outbox(get_engine(postgres_url)))

    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    worker = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("fault_worker.py")),
         "--processes", "2", "--threads", "8", "--stale", "20"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, text=True,
        start_new_session=True,
    )  # fmt: skip
    killed = flushed = False
    started = time.monotonic()
    try:
        while time.monotonic() - started < 840:  # 3 minutes on a quiet machine, 6-7 at load 14
            time.sleep(0.5)
            done = _progress(postgres_url)
            delivered = done.get("delivered", 0)
            if os.environ.get("FAULT_VERBOSE"):
                print(f"{time.monotonic() - started:.1f}s {done}", file=sys.stderr)
            if not killed and delivered >= MESSAGES * 0.2:
                victim = _children(worker.pid)[0]
                os.kill(victim, signal.SIGKILL)  # (a) mid-batch: 8 threads in flight
                killed = True
            if killed and not flushed and delivered >= MESSAGES * 0.5:
                redis.Redis.from_url(redis_url).flushdb()  # (b) every queued message lost
                flushed = True
            if done.get("delivered", 0) + done.get("failed", 0) == MESSAGES:
                break
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)  # whatever is left of its children
        log.close()
        errors = log_path.read_text()
        if os.environ.get("FAULT_VERBOSE"):
            Path("/tmp/fault_worker.log").write_text(errors)
    elapsed = time.monotonic() - started
    assert killed and flushed, (
        f"the faults were not injected: {_progress(postgres_url)}\n{errors[-3000:]}"
    )
    assert "restarting" in errors
    final = _progress(postgres_url)
    assert final == {"delivered": MESSAGES}, final

    sms = {k for k, c in keys.items() if c == "sms"}
    email = {message_id(k, "zhida.local") for k, c in keys.items() if c == "email"}
    hooks = {k for k, c in keys.items() if c == "webhook"}
    sms_counts, mail_counts = gateway.accepted_counts(), sink.accepted_counts()
    hook_counts = receiver.accepted_counts()
    assert set(sms_counts) == sms and set(mail_counts) == email and set(hook_counts) == hooks
    assert max(sms_counts.values()) == 1, "an SMS was delivered twice"
    assert max(mail_counts.values()) == 1, "an e-mail was delivered twice"
    assert max(hook_counts.values()) == 1, "a webhook was delivered twice"
    assert receiver.refused == [], receiver.refused[:3]  # every request and question signed
    refused = len(gateway.received()) - len(gateway.accepted())
    assert refused > 0.2 * len(sms)  # (c) the gateway did fail about 30 % of requests
    # (d) each far side lost its answer to some messages: each in-doubt path was taken
    sms_lost = sum(1 for r in gateway.received() if r.status == 0)
    lost = {"sms": sms_lost, "email": sink.hung_up, "webhook": receiver.hung_up}
    assert min(lost.values()) > 0, lost
    print(
        f"\n{MESSAGES} messages in {elapsed:.1f}s: {len(sms)} SMS ({refused} refused requests), "
        f"{len(email)} e-mails, {len(hooks)} webhooks; answers lost {lost}; exactly once by "
        "the gateway's, SMTP server's and receiver's receipts"
    )
