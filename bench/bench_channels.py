"""Channels: sends per second through each channel, beside the bare protocol in the same run.

- ``sms``: :class:`SmsHttpChannel` to the stand-in gateway (4 threads) — baseline: the same
  POSTs with a bare ``httpx.Client`` (what the channel adds: checks, headers, classification);
- ``email``: :class:`SmtpChannel` to the stand-in SMTP server (4 threads) — baseline: bare
  ``smtplib`` ``send_message`` on one open connection per thread;
- ``inbox``: :class:`InboxChannel` on PostgreSQL (4 threads; insert once per key plus its
  delivered receipt) — baseline: a bare one-row INSERT per transaction;
- ``ratelimit``: Redis token-bucket takes per second (one Lua call each) — baseline: Redis
  ``PING`` round trips on the same connection;
- ``render``: messages rendered per second (SMS with the length fit, and e-mail) — baseline:
  one ``str.format`` of a message of the same shape.

Run: ``.venv/bin/python -m bench.bench_channels [--messages N]``
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import threading
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage

THREADS = 4
POSTGRES_URL = os.environ.get(
    "ZHIDA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("ZHIDA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _rate(n: int, work: Callable[[int], None], threads: int = THREADS) -> float:
    """Messages per second doing ``work(i)`` for i in range(n) on ``threads`` threads."""
    chunks = [range(t, n, threads) for t in range(threads)]

    def run(chunk: range) -> None:
        for i in chunk:
            work(i)

    workers = [threading.Thread(target=run, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return round(n / (time.perf_counter() - start), 1)


def _message(channel: str, i: int, address: str | None) -> object:
    from notifier.channels.base import OutboundMessage

    return OutboundMessage(
        i, f"bench-{uuid.uuid4().hex}", channel, f"R{i:07d}", "resident", address, "zh",
        "育儿补贴", "【直达】您可能符合育儿补贴条件，详情：https://zd.gov.cn/m/x",
        policy_ids=("bj-childcare",),
    )  # fmt: skip


def bench_sms(n: int) -> dict[str, float]:
    import httpx

    from notifier.channels.sms_http import SmsHttpChannel
    from simulations.gateways import SmsGateway

    with SmsGateway() as gateway:
        channel = SmsHttpChannel(gateway.url)
        channel_rate = _rate(n, lambda i: channel.send(_message("sms", i, "+8613800000000")))  # type: ignore[arg-type]
        channel.close()
        client = httpx.Client()
        body = {"to": "+8613800000000", "text": "【直达】您可能符合育儿补贴条件"}
        bare_rate = _rate(
            n, lambda i: client.post(gateway.url, json=body, headers={"Idempotency-Key": str(i)})
        )
        client.close()
        assert len(gateway.accepted()) == 2 * n
    return {"sms_channel_per_s": channel_rate, "baseline_bare_httpx_per_s": bare_rate}


def bench_email(n: int) -> dict[str, float]:
    from notifier.channels.smtp import SmtpChannel
    from simulations.gateways import SmtpSink

    with SmtpSink() as sink:
        channel = SmtpChannel(sink.host, sink.port)
        channel_rate = _rate(n, lambda i: channel.send(_message("email", i, "a@example.cn")))  # type: ignore[arg-type]
        local = threading.local()

        def bare(i: int) -> None:
            if getattr(local, "smtp", None) is None:
                local.smtp = smtplib.SMTP(sink.host, sink.port)
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = "a@zhida.local", "a@example.cn", "育儿补贴"
            mail["Message-ID"] = f"<bare-{i}@zhida.local>"
            mail.set_content("您可能符合育儿补贴条件。")
            local.smtp.send_message(mail)

        bare_rate = _rate(n, bare)
        assert len(sink.received()) == 2 * n
    return {"email_channel_per_s": channel_rate, "baseline_bare_smtplib_per_s": bare_rate}


def bench_inbox(n: int) -> dict[str, float]:
    import sqlalchemy as sa

    from core.db import get_engine, upgrade
    from notifier.channels.inbox import InboxChannel, inbox_messages

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        engine = get_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
        upgrade(engine)
        channel = InboxChannel(engine)
        channel_rate = _rate(n, lambda i: channel.send(_message("inbox", i, None)))  # type: ignore[arg-type]

        row = {"subject_type": "resident", "policy_ids": "bj-childcare", "locale": "zh",
               "title": "育儿补贴", "body": "您可能符合育儿补贴条件"}  # fmt: skip

        def bare(i: int) -> None:
            with engine.begin() as conn:
                conn.execute(
                    inbox_messages.insert().values(
                        idempotency_key=f"bare-{i}",
                        subject_id=f"R{i:07d}",
                        created_at=sa.func.now(),
                        **row,
                    )
                )

        bare_rate = _rate(n, bare)
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return {"inbox_channel_postgres_per_s": channel_rate, "baseline_bare_insert_per_s": bare_rate}


def bench_ratelimit(n: int) -> dict[str, float]:
    import redis

    from notifier.ratelimit import Rate, RedisRateLimiter

    limiter = RedisRateLimiter(REDIS_URL, {"sms": Rate(per_second=1e9, burst=1e9)}, prefix="bench:")
    take_rate = _rate(n, lambda i: limiter.try_acquire("sms"), threads=1)
    limiter.close()
    client = redis.Redis.from_url(REDIS_URL)
    ping_rate = _rate(n, lambda i: client.ping(), threads=1)
    client.close()
    return {"redis_bucket_takes_per_s": take_rate, "baseline_redis_ping_per_s": ping_rate}


def bench_render(n: int) -> dict[str, float]:
    from notifier.render import render

    item = {
        "purpose": "invitation", "policy_id": "bj-childcare", "title": "育儿补贴",
        "reason": ["children_under_3 >= 1 ✓", 'hukou_city == "北京市" ✓'] * 4,
        "materials": ["身份证"], "item_key": "k",
    }  # fmt: skip
    labels: dict[str, str] = {}
    sms = _rate(n, lambda i: render([item], channel="sms", locale="zh", field_label=labels), 1)
    mail = _rate(n, lambda i: render([item], channel="email", locale="zh", field_label=labels), 1)
    pattern = "【{}】您可能符合{}条件（{}），详情：{}"
    bare = _rate(n, lambda i: pattern.format("直达", "育儿补贴", "；".join(item["reason"]), "u"), 1)
    return {"render_sms_per_s": sms, "render_email_per_s": mail, "baseline_str_format_per_s": bare}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args(argv or [])
    n = args.messages
    figures: dict[str, object] = {"messages": n, "threads": THREADS}
    for part in (bench_sms, bench_email, bench_inbox, bench_ratelimit, bench_render):
        figures.update(part(n if part is not bench_email else max(1, n // 4)))
    figures["email_messages"] = max(1, n // 4)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
