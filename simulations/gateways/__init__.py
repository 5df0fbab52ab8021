"""Stand-ins for the outside world: an SMS gateway, an SMTP server, a webhook endpoint, people.

The servers are real, on 127.0.0.1 (threads of the process that starts them, or a process of
their own with ``python -m simulations.gateways``) that tests and the demo deliver to.  Like
real gateways they **de-duplicate nothing**: every request they accept is in their receipts,
so a test counts exactly-once delivery from what the far side saw, not from what the sender
believes.  They can be slow and can fail a configurable, seeded share of requests.

``sms`` (HTTP SMS gateway), ``smtp`` (SMTP server), ``webhook`` (a department system's
endpoint), ``world`` (all three together, and a process of their own), ``responses`` (people
responding to what was delivered).
"""

from simulations.gateways._responses import Responses, simulate_responses
from simulations.gateways._sms import SmsGateway, SmsReceipt
from simulations.gateways._smtp import SmtpReceipt, SmtpSink
from simulations.gateways._webhook import WebhookReceipt, WebhookReceiver
from simulations.gateways._world import StandIns, main

__all__ = [
    "Responses",
    "SmsGateway",
    "SmsReceipt",
    "SmtpReceipt",
    "SmtpSink",
    "StandIns",
    "WebhookReceipt",
    "WebhookReceiver",
    "main",
    "simulate_responses",
]
