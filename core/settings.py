"""Settings from ``ZHIDA_*`` environment variables, with embedded defaults.

| variable              | default                               | meaning                          |
|-----------------------|---------------------------------------|----------------------------------|
| ``ZHIDA_DATA_DIR``    | ``.zhida`` in the working directory   | where files and SQLite live      |
| ``ZHIDA_DATABASE_URL``| ``sqlite:///<data dir>/zhida.db``     | SQLAlchemy URL (PostgreSQL too)  |
| ``ZHIDA_REDIS_URL``   | unset: in-process workers             | Redis broker for Dramatiq        |
| ``ZHIDA_TIMEZONE``    | ``Asia/Shanghai``                     | local time for quiet hours, dates|
| ``ZHIDA_SCHEMA_EXTENSIONS`` | unset                           | extra schema YAML, ``:``-sep.    |
| ``ZHIDA_PERSONALISATION``   | ``on``                          | ``off``: rules-only order, no    |
|                       |                                       | ranking by personal traits       |

>>> s = Settings.from_env({"ZHIDA_DATA_DIR": "/srv/zhida"})
>>> s.database_url
'sqlite:////srv/zhida/zhida.db'
>>> s.timezone, s.redis_url is None, s.personalised
('Asia/Shanghai', True, True)
>>> Settings.from_env({"ZHIDA_PERSONALISATION": "off"}).personalised
False
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    # China's 2022 algorithmic-recommendation provisions: users may switch off personalised
    # ranking; operators can switch it off for everyone here.
    personalised: bool = True

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
            personalised=personalisation == "on",
        )


def get_settings() -> Settings:
    """The settings of this process, read from the environment each call (cheap)."""
    return Settings.from_env()
