"""The worker of the fault test: ``zhida worker`` with the stand-ins' status lookups.

Run as a script by ``test_fault.py``: the real ``serve`` (processes, restarts, sweeper), the
real SMS and SMTP channels from the environment, each wrapped so that an attempt lost with a
killed worker is first looked up at the far side — as a provider's delivery-status query
(Aliyun QuerySendDetails, Tencent PullSmsSendStatus) would answer — before it is sent again.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.request
from typing import Any

from notifier.channels.base import OutboundMessage, SendResult


class StatusLookup:
    """A channel plus ``lookup(key)``: did the far side already take this message?"""

    def __init__(self, channel: Any, status_url: str) -> None:
        self.channel, self.name, self.status_url = channel, channel.name, status_url

    def send(self, message: OutboundMessage) -> SendResult:
        result: SendResult = self.channel.send(message)
        return result

    def lookup(self, idempotency_key: str) -> bool | None:
        url = f"{self.status_url}/{self.name}/{idempotency_key}"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return bool(json.load(answer)["accepted"])


def prepare(status_url: str) -> None:
    from core.db import get_engine
    from core.settings import get_settings
    from notifier.actors import DeliveryRuntime, configure_delivery, send_later
    from notifier.channels.sms_http import SmsHttpChannel
    from notifier.channels.smtp import SmtpChannel
    from notifier.outbox import Outbox
    from notifier.render import render_row

    s = get_settings()
    assert s.sms_gateway_url and s.smtp_host
    channels: dict[str, Any] = {
        "sms": StatusLookup(
            SmsHttpChannel(s.sms_gateway_url, timeout=s.channel_timeout), status_url
        ),
        "email": StatusLookup(
            SmtpChannel(s.smtp_host, s.smtp_port, timeout=s.channel_timeout), status_url
        ),
    }
    configure_delivery(
        DeliveryRuntime(
            outbox=Outbox(get_engine()),
            channels=channels,
            render=render_row,
            lease=float(os.environ["FAULT_LEASE"]),
            backoff=s.retry_backoff,
            send_retries=send_later,
        )
    )


def main() -> None:
    from api.commands.worker import serve

    parser = argparse.ArgumentParser()
    parser.add_argument("--status-url", required=True)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--stale", type=float, default=20.0)
    args = parser.parse_args()
    serve(
        processes=args.processes, threads=args.threads, queues=("deliveries",), sweep_every=1.0,
        stale=args.stale, prepare=lambda: prepare(args.status_url),
    )  # fmt: skip


if __name__ == "__main__":
    main()
