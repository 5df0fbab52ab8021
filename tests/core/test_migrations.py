from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.cli import cli, main
from api.schema_check import declared_metadata, differences, table_modules
from core.db import MIGRATIONS_DIR, current_revision, get_engine, head_revision, upgrade

# A database made by `zhida db upgrade` on main at 240066b (revision 0012), before the
# migrations were written out: databases in the field were made by those migrations.
MAIN_0012 = Path(__file__).parent / "fixtures" / "zhida-0012-240066b.sqlite"


def test_the_migrations_make_exactly_the_declared_tables(database_url: str) -> None:
    engine = get_engine(database_url)
    upgrade(engine)
    assert differences(engine) == []


def test_a_database_made_by_main_before_the_rewrite_upgrades_to_the_declared_tables(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "old.db"
    shutil.copy(MAIN_0012, copy)
    engine = get_engine(f"sqlite:///{copy}")
    assert current_revision(engine) == "0012"
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert differences(engine) == []


def test_a_declaration_the_migrations_lack_is_a_difference(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    upgrade(engine)
    metadata = declared_metadata()
    metadata.tables["outbox"].append_column(sa.Column("priority", sa.Integer))
    assert differences(engine, metadata) == [
        "column outbox.priority is declared but missing from the database"
    ]


def test_every_package_table_module_is_gathered() -> None:
    modules = table_modules()
    assert {"notifier.tables", "rules.store", "matcher.runs"} <= set(modules)
    assert not [m for m in modules if "migrations" in m]


@pytest.mark.parametrize("path", sorted(MIGRATIONS_DIR.glob("versions/*.py")), ids=lambda p: p.stem)
def test_no_migration_imports_application_code(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "alembic", "sqlalchemy"}


def test_db_check_says_the_migrations_and_the_code_agree() -> None:
    result = CliRunner().invoke(cli, ["db", "check"])
    assert result.exit_code == 0, result.output
    assert "agree on" in result.output


def test_db_check_of_a_database_that_differs_names_each_difference_and_fails(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = get_engine(sqlite_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_outbox_due"))
    monkeypatch.setenv("ZHIDA_DATABASE_URL", sqlite_url)
    assert main(["db", "check", "--configured"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].strip() == (
        "index ix_outbox_due on outbox(status, next_attempt_at) is declared but missing from "
        "the database"
    )
    assert err[-1].startswith("zhida: error: 1 difference(s) between the tables the code declares")


def test_a_load_into_a_fresh_database_adds_a_schema_extensions_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extension = tmp_path / "ext.yaml"
    extension.write_text(
        "entities:\n  resident:\n    fields:\n"
        "      - {name: has_car, name_zh: 有车, type: boolean, zh: 是否有车, en: Owns a car}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ZHIDA_SCHEMA_EXTENSIONS", str(extension))
    population = tmp_path / "pop"
    population.mkdir()
    (population / "residents.csv").write_text("person_id,has_car\np1,true\n", encoding="utf-8")
    assert main(["profiles", "load", str(population), "--audience", "resident"]) == 0
    columns = {c["name"] for c in sa.inspect(get_engine()).get_columns("residents")}
    assert "has_car" in columns
