"""The worker of the fault test: ``zhida worker`` with a short lease.

Run as a script by ``test_fault.py``: the real ``serve`` (processes, restarts, sweeper) and the
real SMS, SMTP and webhook channels from the environment, with their status queries
(``ZHIDA_SMS_STATUS_URL``, ``ZHIDA_SMTP_STATUS_URL``, the webhook receiver's signed ``GET``),
so that an attempt in doubt (lost with a killed worker, or its answer lost) is first looked up
at the far side — as a provider's delivery-status query (Aliyun QuerySendDetails, Tencent
PullSmsSendStatus) or a relay's log by Message-ID would answer — before it is sent again.
"""

from __future__ import annotations

import argparse
import os


def prepare() -> None:
    from core.db import get_engine
    from core.settings import get_settings
    from notifier.actors import send_later
    from notifier.channels.registry import channels_from_settings
    from notifier.outbox import Outbox
    from notifier.render import render_row
    from notifier.runtime import DeliveryRuntime, configure_delivery

    s = get_settings()
    assert s.sms_status_url and s.smtp_status_url and s.webhook_secret
    configure_delivery(
        DeliveryRuntime(
            outbox=Outbox(get_engine()),
            channels=channels_from_settings(s, names=("sms", "email", "webhook")),
            render=render_row,
            lease=float(os.environ["FAULT_LEASE"]),
            backoff=s.retry_backoff,
            send_retries=send_later,
        )
    )


def main() -> None:
    from api.commands.worker import serve

    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--stale", type=float, default=20.0)
    args = parser.parse_args()
    serve(
        processes=args.processes, threads=args.threads, queues=("deliveries",), sweep_every=1.0,
        stale=args.stale, prepare=prepare,
    )  # fmt: skip


if __name__ == "__main__":
    main()
