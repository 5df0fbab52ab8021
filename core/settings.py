"""Settings from ``ZHIDA_*`` environment variables, with embedded defaults.

| variable              | default                               | meaning                          |
|-----------------------|---------------------------------------|----------------------------------|
| ``ZHIDA_DATA_DIR``    | ``.zhida`` in the working directory   | where files and SQLite live      |
| ``ZHIDA_DATABASE_URL``| ``sqlite:///<data dir>/zhida.db``     | SQLAlchemy URL (PostgreSQL too)  |
| ``ZHIDA_REDIS_URL``   | unset: in-process workers             | Redis broker for Dramatiq        |
| ``ZHIDA_TIMEZONE``    | ``Asia/Shanghai``                     | local time for quiet hours, dates|
| ``ZHIDA_SCHEMA_EXTENSIONS`` | unset                           | extra schema YAML, ``:``-sep.    |
| ``ZHIDA_PARAMETERS``        | unset                           | extra parameter files or dirs,   |
|                             |                                 | ``:``-sep. (rules.parameters)    |
| ``ZHIDA_PERSONALISATION``   | ``on``                          | ``off``: rules-only order, no    |
|                       |                                       | ranking by personal traits       |
| ``ZHIDA_CONTACT_BUDGET``    | ``2``                           | messages per person per week     |
| ``ZHIDA_QUIET_HOURS``       | ``sms=21:00-08:00``             | local quiet window per channel   |
| ``ZHIDA_DELIVERY_ATTEMPTS`` | ``8``                           | attempts before a row is parked  |
| ``ZHIDA_RETRY_BACKOFF``     | ``30``                          | first retry delay, seconds (x2)  |
| ``ZHIDA_GUARD_SHARE``       | ``0.02``                        | a policy's share of offers ended |
|                             |                                 | that may hold a plan (2 %) ...   |
| ``ZHIDA_GUARD_FACTOR``      | ``3``                           | ... when above 3× its median     |
| ``ZHIDA_GUARD_RUNS``        | ``6``                           | ... over its last 6 runs         |
| ``ZHIDA_GUARD_POPULATION_DROP`` | ``0.05``                    | subjects with an offer falling   |
|                             |                                 | by more: the plan is held        |
| ``ZHIDA_GUARD_MIN_ENDED``   | ``20``                          | fewer endings: never held        |
| ``ZHIDA_SMS_GATEWAY_URL``   | unset: no SMS                   | the HTTP SMS gateway's POST URL  |
| ``ZHIDA_SMS_GATEWAY_TOKEN`` | unset                           | its bearer token (credentials)   |
| ``ZHIDA_SMS_STATUS_URL``    | unset                           | its status query by key, if any  |
| ``ZHIDA_SMS_REPORTS_URL``   | unset                           | its delivery reports, to poll    |
| ``ZHIDA_SMS_SIGNATURE``     | ``直达``                        | the signature (签名) of each SMS |
| ``ZHIDA_SMS_MAX_SEGMENTS``  | ``3``                           | SMS longer are shortened         |
| ``ZHIDA_SMTP_HOST``         | unset: no e-mail                | SMTP server for e-mail           |
| ``ZHIDA_SMTP_PORT``         | ``25``                          | its port                         |
| ``ZHIDA_SMTP_USER``, ``ZHIDA_SMTP_PASSWORD`` | unset          | SMTP login (over STARTTLS)       |
| ``ZHIDA_SMTP_STARTTLS``     | ``off``                         | ``on``: STARTTLS before login    |
| ``ZHIDA_SMTP_STATUS_URL``   | unset: in doubt, park           | the relay's query by Message-ID  |
| ``ZHIDA_MAIL_FROM``         | ``noreply@zhida.local``         | sender address of e-mails        |
| ``ZHIDA_WEBHOOK_SECRET``    | unset: no webhooks              | HMAC-SHA256 key for webhooks     |
| ``ZHIDA_CHANNEL_TIMEOUT``   | ``10``                          | seconds per gateway request      |
| ``ZHIDA_RATE_LIMITS``       | unset: no limits                | per second[/burst], ``sms=50``   |
| ``ZHIDA_PUBLIC_URL``        | ``https://zhida.example.gov.cn``| base of links in messages        |
| ``ZHIDA_AUDIT_KEY``         | unset: the key file             | HMAC key of audit checkpoints    |
| ``ZHIDA_AUDIT_KEY_FILE``    | ``<data dir>/audit.key``        | the key, made (0600) on first use|
| ``ZHIDA_AUDIT_CHECKPOINTS`` | ``<data dir>/audit-checkpoints``| append-only file of checkpoints  |
| ``ZHIDA_TOKEN_DAYS``        | ``30``                          | lifetime of a new API token      |

>>> s = Settings.from_env({"ZHIDA_DATA_DIR": "/srv/zhida"})
>>> s.database_url
'sqlite:////srv/zhida/zhida.db'
>>> s.timezone, s.redis_url is None, s.personalised
('Asia/Shanghai', True, True)
>>> Settings.from_env({"ZHIDA_PERSONALISATION": "off"}).personalised
False
>>> Settings.from_env({"ZHIDA_QUIET_HOURS": "sms=22:00-07:30,email=23:00-06:00"}).quiet_hours
(('sms', '22:00', '07:30'), ('email', '23:00', '06:00'))
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigurationError

__all__ = ["Settings", "get_settings"]


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    timezone: str
    schema_extensions: tuple[Path, ...] = field(default=())
    parameter_extensions: tuple[Path, ...] = field(default=())  # beside the built-in library
    # China's 2022 algorithmic-recommendation provisions: users may switch off personalised
    # ranking; operators can switch it off for everyone here.
    personalised: bool = True
    contact_budget: int = 2  # messages per person per week, across policies and channels
    quiet_hours: tuple[tuple[str, str, str], ...] = (("sms", "21:00", "08:00"),)
    delivery_attempts: int = 8
    retry_backoff: float = 30.0  # seconds before the first retry; doubled each attempt
    # The mass-change guard (notifier.guard): a plan is held for an operator when it ends more
    # than guard_share of a policy's offers and guard_factor times its median share ended over
    # its last guard_runs runs, or when the subjects with an offer fall by guard_population_drop.
    guard_share: float = 0.02
    guard_factor: float = 3.0
    guard_runs: int = 6
    guard_population_drop: float = 0.05
    guard_min_ended: int = 20  # a policy ending fewer offers is not a mass change
    # Channels (notifier/channels/registry.py builds them from these).
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    sms_status_url: str | None = None  # GET <url>/<idempotency key> -> {"accepted": bool}
    sms_reports_url: str | None = None  # GET <url>?after=N -> delivery reports (polled)
    sms_signature: str = "直达"
    sms_max_segments: int = 3  # 70 Chinese characters each (67 when concatenated)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_status_url: str | None = None  # GET <url>/<Message-ID> -> {"accepted": bool}
    mail_from: str = "noreply@zhida.local"
    webhook_secret: str | None = None
    channel_timeout: float = 10.0
    rate_limits: str = ""  # NAME=PER_SECOND[/BURST],...; parsed by notifier.ratelimit
    public_url: str = "https://zhida.example.gov.cn"  # links in messages: inbox, forms
    # The audit chain's checkpoints (api.app.checkpoints): MACed with a key the database never
    # holds, appended to a file outside it.  None: in the data directory.
    audit_key: str | None = field(default=None, repr=False)
    audit_key_file: Path | None = None
    audit_checkpoints: Path | None = None
    token_days: float = 30.0  # a new API token's lifetime unless `--hours` says otherwise

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("ZHIDA_DATA_DIR", ".zhida"))
        database_url = env.get("ZHIDA_DATABASE_URL") or f"sqlite:///{data_dir / 'zhida.db'}"
        if "://" not in database_url:
            raise ConfigurationError(
                f"ZHIDA_DATABASE_URL={database_url!r} is not a database URL; expected e.g. "
                "'sqlite:///zhida.db' or 'postgresql://user@127.0.0.1:5432/zhida'"
            )
        timezone = env.get("ZHIDA_TIMEZONE", "Asia/Shanghai")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigurationError(
                f"ZHIDA_TIMEZONE={timezone!r} is not a time zone; expected an IANA name "
                "such as 'Asia/Shanghai'"
            ) from exc
        extensions = tuple(
            Path(p) for p in env.get("ZHIDA_SCHEMA_EXTENSIONS", "").split(os.pathsep) if p
        )
        personalisation = env.get("ZHIDA_PERSONALISATION", "on").strip().lower()
        if personalisation not in ("on", "off"):
            raise ConfigurationError(
                f"ZHIDA_PERSONALISATION={personalisation!r} is not 'on' or 'off'; 'off' orders "
                "offers by rules only, without ranking by personal characteristics"
            )
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=env.get("ZHIDA_REDIS_URL") or None,
            timezone=timezone,
            schema_extensions=extensions,
            parameter_extensions=tuple(
                Path(p) for p in env.get("ZHIDA_PARAMETERS", "").split(os.pathsep) if p
            ),
            personalised=personalisation == "on",
            contact_budget=int(_number(env, "ZHIDA_CONTACT_BUDGET", 2, minimum=0)),
            quiet_hours=_quiet_hours(env.get("ZHIDA_QUIET_HOURS", "sms=21:00-08:00")),
            delivery_attempts=int(_number(env, "ZHIDA_DELIVERY_ATTEMPTS", 8, minimum=1)),
            retry_backoff=_number(env, "ZHIDA_RETRY_BACKOFF", 30.0, minimum=0.0),
            guard_share=_share(env, "ZHIDA_GUARD_SHARE", 0.02),
            guard_factor=_number(env, "ZHIDA_GUARD_FACTOR", 3.0, minimum=0.0),
            guard_runs=int(_number(env, "ZHIDA_GUARD_RUNS", 6, minimum=1)),
            guard_population_drop=_share(env, "ZHIDA_GUARD_POPULATION_DROP", 0.05),
            guard_min_ended=int(_number(env, "ZHIDA_GUARD_MIN_ENDED", 20, minimum=0)),
            sms_gateway_url=env.get("ZHIDA_SMS_GATEWAY_URL") or None,
            sms_gateway_token=env.get("ZHIDA_SMS_GATEWAY_TOKEN") or None,
            sms_status_url=env.get("ZHIDA_SMS_STATUS_URL") or None,
            sms_reports_url=env.get("ZHIDA_SMS_REPORTS_URL") or None,
            sms_signature=env.get("ZHIDA_SMS_SIGNATURE") or "直达",
            sms_max_segments=int(_number(env, "ZHIDA_SMS_MAX_SEGMENTS", 3, minimum=1)),
            smtp_host=env.get("ZHIDA_SMTP_HOST") or None,
            smtp_port=int(_number(env, "ZHIDA_SMTP_PORT", 25, minimum=1)),
            smtp_user=env.get("ZHIDA_SMTP_USER") or None,
            smtp_password=env.get("ZHIDA_SMTP_PASSWORD") or None,
            smtp_starttls=_on_off(env, "ZHIDA_SMTP_STARTTLS"),
            smtp_status_url=env.get("ZHIDA_SMTP_STATUS_URL") or None,
            mail_from=env.get("ZHIDA_MAIL_FROM") or "noreply@zhida.local",
            webhook_secret=env.get("ZHIDA_WEBHOOK_SECRET") or None,
            channel_timeout=_number(env, "ZHIDA_CHANNEL_TIMEOUT", 10.0, minimum=0.001),
            rate_limits=env.get("ZHIDA_RATE_LIMITS", ""),
            public_url=(env.get("ZHIDA_PUBLIC_URL") or "https://zhida.example.gov.cn").rstrip("/"),
            audit_key=env.get("ZHIDA_AUDIT_KEY") or None,
            audit_key_file=_path(env, "ZHIDA_AUDIT_KEY_FILE"),
            audit_checkpoints=_path(env, "ZHIDA_AUDIT_CHECKPOINTS"),
            token_days=_number(env, "ZHIDA_TOKEN_DAYS", 30.0, minimum=0.001),
        )


def _path(env: Mapping[str, str], name: str) -> Path | None:
    text = env.get(name, "").strip()
    return Path(text) if text else None


def _on_off(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "off").strip().lower()
    if text not in ("on", "off"):
        raise ConfigurationError(f"{name}={text!r} is not 'on' or 'off'")
    return text == "on"


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    """A share between 0 and 1 (0.02 is 2 %); a percentage such as ``2`` is refused."""
    value = _number(env, name, default, minimum=0.0)
    if value > 1:
        raise ConfigurationError(
            f"{name}={env.get(name)!r} is a share between 0 and 1; write {value / 100:g} for "
            f"{value:g} %"
        )
    return value


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    text = env.get(name, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        value = minimum - 1
    if value < minimum or (isinstance(default, int) and value != int(value)):
        kind = "a whole number" if isinstance(default, int) else "a number"
        raise ConfigurationError(f"{name}={text!r} is not {kind} >= {minimum:g}")
    return value


def _is_hhmm(text: str) -> bool:
    try:
        time.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 5


def _quiet_hours(text: str) -> tuple[tuple[str, str, str], ...]:
    out = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        channel, _, window = item.partition("=")
        start, _, end = window.partition("-")
        times = (start.strip(), end.strip())
        if not channel.strip() or not all(_is_hhmm(t) for t in times):
            raise ConfigurationError(
                f"ZHIDA_QUIET_HOURS item {item!r} is malformed; expected CHANNEL=HH:MM-HH:MM, "
                "e.g. 'sms=21:00-08:00' (empty: no quiet hours)"
            )
        out.append((channel.strip(), *times))
    return tuple(out)


def get_settings() -> Settings:
    """The settings of this process, read from the environment each call (cheap)."""
    return Settings.from_env()
