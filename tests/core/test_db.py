from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.db import current_revision, get_engine, head_revision, upgrade
from core.errors import DatabaseError


def test_upgrade_brings_both_back_ends_to_the_head_revision(database_url: str) -> None:
    engine = get_engine(database_url)
    assert upgrade(engine) == head_revision()
    assert current_revision(engine) == head_revision()
    assert "deployment" in sa.inspect(engine).get_table_names()


def test_upgrade_twice_changes_nothing(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    first = upgrade(engine)
    assert upgrade(engine) == first


def test_unreachable_database_is_one_clear_line() -> None:
    engine = get_engine("postgresql://nobody@127.0.0.1:1/x")
    with pytest.raises(DatabaseError) as info:
        upgrade(engine)
    assert "\n" not in str(info.value)
    assert "ZHIDA_DATABASE_URL" in str(info.value)
