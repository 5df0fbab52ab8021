"""The runtime a worker builds from the settings (notifier/runtime.py)."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from notifier.runtime import configure_delivery, runtime


@pytest.fixture
def fresh() -> Iterator[None]:
    configure_delivery(None)
    yield
    configure_delivery(None)


def test_retries_go_back_to_the_broker_through_the_actors_sender(fresh: None) -> None:
    from notifier.actors import send_later  # importing the actors registers their sender

    assert runtime().send_retries is send_later


def test_the_runtime_renders_with_the_templates_and_sends_on_every_channel(fresh: None) -> None:
    from notifier.channels.registry import CHANNEL_NAMES
    from notifier.render import render_row

    rt = runtime()
    assert isinstance(rt.render, functools.partial) and rt.render.func is render_row
    assert set(rt.channels) == set(CHANNEL_NAMES)
