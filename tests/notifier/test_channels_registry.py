from __future__ import annotations

from pathlib import Path

import pytest

from core.db import get_engine, upgrade
from core.errors import ConfigurationError
from core.settings import Settings
from notifier.channels.base import Channel, OutboundMessage, PermanentDeliveryError
from notifier.channels.inbox import InboxStore
from notifier.channels.registry import (
    CHANNEL_NAMES,
    UnavailableChannel,
    build_channel,
    channels_from_settings,
    close_channels,
    configured_channels,
)
from simulations.gateways import SmsGateway, SmtpSink, WebhookReceiver


def _message(channel: str, address: str | None) -> OutboundMessage:
    return OutboundMessage(
        1, f"key-{channel}", channel, "p1", "resident", address, "zh", "标题", "正文",
        policy_ids=("bj-a",),
    )  # fmt: skip


def test_every_channel_is_built_from_the_settings_and_reaches_its_far_side(
    tmp_path: Path,
) -> None:
    with (
        SmsGateway(token="tok") as sms,
        SmtpSink() as smtp,
        WebhookReceiver("hook-secret") as hook,
    ):
        settings = Settings.from_env({
            "ZHIDA_DATA_DIR": str(tmp_path),
            "ZHIDA_SMS_GATEWAY_URL": sms.url, "ZHIDA_SMS_GATEWAY_TOKEN": "tok",
            "ZHIDA_SMTP_HOST": smtp.host, "ZHIDA_SMTP_PORT": str(smtp.port),
            "ZHIDA_MAIL_FROM": "zhida@bj.gov.cn", "ZHIDA_WEBHOOK_SECRET": "hook-secret",
        })  # fmt: skip
        assert configured_channels(settings) == frozenset(CHANNEL_NAMES)
        engine = get_engine(settings.database_url)
        upgrade(engine)
        channels = channels_from_settings(settings, engine)
        addresses = {"inbox": None, "sms": "+8613800000000", "email": "li@example.cn",
                     "webhook": hook.url, "memory": None}  # fmt: skip
        try:
            for name, channel in channels.items():
                assert isinstance(channel, Channel) and channel.name == name
                channel.send(_message(name, addresses[name]))
        finally:
            close_channels(channels)
        assert [r.idempotency_key for r in sms.accepted()] == ["key-sms"]
        assert [r.message_id for r in smtp.received()] == ["<key-email@bj.gov.cn>"]
        assert [r.idempotency_key for r in hook.received()] == ["key-webhook"]
        assert [m.idempotency_key for m in InboxStore(engine).messages("p1")] == ["key-inbox"]


@pytest.mark.parametrize(
    ("name", "setting"),
    [("sms", "ZHIDA_SMS_GATEWAY_URL"), ("email", "ZHIDA_SMTP_HOST"),
     ("webhook", "ZHIDA_WEBHOOK_SECRET")],
)  # fmt: skip
def test_an_unconfigured_channel_fails_its_rows_naming_the_setting(name: str, setting: str) -> None:
    settings = Settings.from_env({})
    assert name not in configured_channels(settings)
    channel = build_channel(name, settings)
    assert isinstance(channel, UnavailableChannel)
    with pytest.raises(PermanentDeliveryError, match=f"not available: set {setting}"):
        channel.send(_message(name, "x"))


def test_an_unknown_channel_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown channel 'fax'; expected one of inbox"):
        build_channel("fax", Settings.from_env({}))


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"ZHIDA_SMTP_PORT": "smtp"}, "ZHIDA_SMTP_PORT"),
        ({"ZHIDA_SMTP_STARTTLS": "yes"}, "ZHIDA_SMTP_STARTTLS='yes' is not 'on' or 'off'"),
        ({"ZHIDA_CHANNEL_TIMEOUT": "-1"}, "ZHIDA_CHANNEL_TIMEOUT"),
    ],
)
def test_malformed_channel_settings_are_refused_with_the_variable(
    env: dict[str, str], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Settings.from_env(env)


def test_a_malformed_gateway_url_is_refused_when_the_channel_is_built() -> None:
    settings = Settings.from_env({"ZHIDA_SMS_GATEWAY_URL": "sms.example.cn"})
    with pytest.raises(ConfigurationError, match="ZHIDA_SMS_GATEWAY_URL"):
        build_channel("sms", settings)
