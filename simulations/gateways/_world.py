"""The stand-ins together: started and stopped as one, their settings, what each saw; and a
process of their own (``python -m simulations.gateways``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from types import TracebackType
from typing import Self

from simulations.gateways._sms import SmsGateway
from simulations.gateways._smtp import SmtpSink
from simulations.gateways._webhook import WebhookReceiver

__all__ = ["StandIns", "main"]


class StandIns:
    """The SMS gateway, the SMTP server and a webhook receiver, started and stopped together.

    :meth:`env` gives the ``ZHIDA_*`` settings that point the channels at them;
    ``hang_up_rate``: the share of messages each far side takes and then hangs up on without
    an answer (the sender is in doubt).  :meth:`summary` counts what each far side saw —
    requests, accepted, refused, and doubles (a key accepted more than once), which a correct
    delivery run keeps at zero.
    """

    def __init__(
        self,
        *,
        sms_failure_rate: float = 0.0,
        smtp_failure_rate: float = 0.0,
        hang_up_rate: float = 0.0,
        seed: int = 0,
        token: str = "stand-in-token",
        webhook_secret: str = "stand-in-secret",
    ) -> None:
        self.token = token
        self.webhook_secret = webhook_secret
        lost = hang_up_rate  # each far side takes that share and then loses its answer
        self.sms = SmsGateway(
            token=token, failure_rate=sms_failure_rate, hang_up_rate=lost, seed=seed
        )
        self.smtp = SmtpSink(failure_rate=smtp_failure_rate, hang_up_rate=lost, seed=seed)
        self.webhook = WebhookReceiver(webhook_secret, hang_up_rate=lost, seed=seed)

    def __enter__(self) -> Self:
        self.sms.start()
        try:
            self.smtp.start()
            self.webhook.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        for server in (self.webhook, self.smtp, self.sms):
            with contextlib.suppress(OSError, RuntimeError):  # never started, already stopped
                server.stop()

    def env(self) -> dict[str, str]:
        """The settings that send SMS, e-mail and webhooks to the stand-ins."""
        return {
            "ZHIDA_SMS_GATEWAY_URL": self.sms.url,
            "ZHIDA_SMS_GATEWAY_TOKEN": self.token,
            "ZHIDA_SMS_STATUS_URL": self.sms.status_url,
            "ZHIDA_SMS_REPORTS_URL": self.sms.reports_url,
            "ZHIDA_SMTP_HOST": self.smtp.host,
            "ZHIDA_SMTP_PORT": str(self.smtp.port),
            "ZHIDA_SMTP_STATUS_URL": self.smtp.status_url,
            "ZHIDA_WEBHOOK_SECRET": self.webhook_secret,
        }

    def summary(self) -> dict[str, dict[str, int]]:
        """What each far side saw."""
        sms = self.sms.received()
        sms_keys = self.sms.accepted_counts()
        mail_keys = self.smtp.accepted_counts()
        hooks = Counter(r.idempotency_key for r in self.webhook.received())
        return {
            "sms": {
                "requests": len(sms),
                "accepted": sum(sms_keys.values()),
                "refused": sum(1 for r in sms if not r.accepted),
                "doubles": sum(n - 1 for n in sms_keys.values() if n > 1),
            },
            "email": {
                "accepted": sum(mail_keys.values()),
                "doubles": sum(n - 1 for n in mail_keys.values() if n > 1),
            },
            "webhook": {
                "accepted": sum(hooks.values()),
                "refused": len(self.webhook.refused),
                "doubles": sum(n - 1 for n in hooks.values() if n > 1),
            },
        }


def main(argv: list[str] | None = None) -> None:
    """Run both stand-ins in this process until interrupted; print their addresses as JSON."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m simulations.gateways", description=main.__doc__
    )
    parser.add_argument("--sms-port", type=int, default=0)
    parser.add_argument("--smtp-port", type=int, default=0)
    parser.add_argument("--token", default=None, help="bearer token the SMS gateway requires")
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    sms = SmsGateway(
        token=args.token, failure_rate=args.failure_rate, delay=args.delay, port=args.sms_port
    )
    smtp = SmtpSink(failure_rate=args.failure_rate, port=args.smtp_port)
    with sms, smtp:
        print(
            json.dumps({"sms_url": sms.url, "smtp_host": smtp.host, "smtp_port": smtp.port}),
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
