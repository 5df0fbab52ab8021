"""ContactStore.reachability: who a simulation may count as reachable, opt-outs applied."""

from __future__ import annotations

import pytest

from core.db import get_engine, upgrade
from notifier.contacts import ContactStore


@pytest.fixture
def contacts(database_url: str) -> ContactStore:
    engine = get_engine(database_url)
    upgrade(engine)
    return ContactStore(engine)


def test_without_contact_points_reachability_is_unknown(contacts: ContactStore) -> None:
    assert contacts.reachability() is None


def test_without_the_table_reachability_is_unknown(sqlite_url: str) -> None:
    assert ContactStore(get_engine(sqlite_url)).reachability() is None


@pytest.mark.parametrize(
    ("contact", "reachable"),
    [
        ({"phone": "+8613800000000"}, True),
        ({"phone": "+8613800000000", "opt_out_channels": "sms"}, False),
        ({"phone": "+8613800000000", "email": "a@b.cn", "opt_out_channels": "sms"}, True),
        ({"webhook_url": "https://example.cn/h", "opt_out_channels": "sms,email"}, True),
        ({"email": "a@b.cn", "opt_out_channels": "email"}, False),
        ({"channels": "inbox"}, False),  # the inbox needs no contact point: not counted
    ],
)
def test_a_subject_is_reachable_through_a_channel_they_did_not_opt_out_of(
    contacts: ContactStore, contact: dict[str, str], reachable: bool
) -> None:
    contacts.replace([{"subject_id": "p1", **contact}])
    frame = contacts.reachability()
    assert frame is not None
    assert frame.rows() == [("p1", reachable)]
