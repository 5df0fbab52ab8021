from __future__ import annotations

import pytest

from core.errors import ConfigurationError
from core.settings import Settings


def test_defaults_are_the_embedded_sqlite_and_beijing_time() -> None:
    s = Settings.from_env({})
    assert s.database_url == "sqlite:///.zhida/zhida.db"
    assert s.redis_url is None
    assert s.timezone == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ZHIDA_DATABASE_URL": "zhida.db"}, "not a database URL"),
        ({"ZHIDA_TIMEZONE": "Mars/Olympus"}, "not a time zone"),
    ],
)
def test_malformed_settings_say_what_was_expected(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigurationError, match=needle):
        Settings.from_env(env)
