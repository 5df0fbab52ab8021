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


def test_upgrade_at_the_head_does_not_import_alembic(sqlite_url: str) -> None:
    # Alembic's import is a third of a command's start-up; a database at the head needs none.
    import subprocess
    import sys

    upgrade(get_engine(sqlite_url))
    code = (
        "import sys; from core.db import get_engine, upgrade; "
        f"upgrade(get_engine({sqlite_url!r})); print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_head_read_from_the_files_is_alembics() -> None:
    from core.db import _head_in_files

    assert _head_in_files() == head_revision()
