"""Step 4: the channel, by the subject's preference and reachability; the inbox always works.

Residents default to SMS, then e-mail; firms to their webhook, then e-mail.  A channel is
skipped when it is not configured, opted out of, or there is no address for it (no phone → no
SMS); each skip is noted on the candidate.

>>> from notifier.steps._base import Contact
>>> choose_channel(Contact("p", email="a@example.cn"), "resident", frozenset({"sms", "email"}))
('email', 'a@example.cn', ('no sms: no phone number',))
>>> choose_channel(None, "resident", frozenset({"sms"}))
('inbox', None, ('no contact points: the in-app inbox',))
"""

from __future__ import annotations

from notifier.steps._base import Candidate, Contact, PlanContext

__all__ = ["DEFAULT_ORDER", "RoutingStep", "choose_channel"]

DEFAULT_ORDER = {"resident": ("sms", "email"), "enterprise": ("webhook", "email")}
_NO_ADDRESS = {"sms": "no phone number", "email": "no e-mail address", "webhook": "no webhook"}


def choose_channel(
    contact: Contact | None, subject_type: str, configured: frozenset[str]
) -> tuple[str, str | None, tuple[str, ...]]:
    """(channel, address, notes) for a subject."""
    if contact is None:
        return "inbox", None, ("no contact points: the in-app inbox",)
    notes: list[str] = []
    for channel in contact.channels or DEFAULT_ORDER.get(subject_type, ()):
        if channel == "inbox":
            return "inbox", None, tuple(notes)
        if channel not in configured:
            notes.append(f"no {channel}: channel not configured")
        elif channel in contact.opt_out_channels:
            notes.append(f"no {channel}: opted out")
        elif not contact.address(channel):
            notes.append(f"no {channel}: {_NO_ADDRESS.get(channel, 'no address')}")
        else:
            return channel, contact.address(channel), tuple(notes)
    return "inbox", None, tuple(notes)


class RoutingStep:
    name = "routing"

    def __call__(
        self, candidates: tuple[Candidate, ...], ctx: PlanContext
    ) -> tuple[Candidate, ...]:
        out = []
        for c in candidates:
            if c.decision == "suppressed":
                out.append(c)
                continue
            contact = ctx.contacts.get(c.to)  # the recipient's: a head, a guardian, the firm
            channel, address, notes = choose_channel(contact, c.to_type, ctx.channels)
            locale = contact.locale if contact else "zh"
            out.append(
                c.but(channel=channel, address=address, locale=locale, notes=c.notes + notes)
            )
        return tuple(out)
