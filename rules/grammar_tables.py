"""Cached parser tables for rule-engine's grammar, so a command starts in a fraction of a second.

rule-engine builds its LALR parser with PLY when it is imported and never writes the tables
(``write_tables=False``): about 0.35 s of every process that parses a rule.  PLY reads tables
from the module ``rule_engine.parser.parsetab`` when one can be imported and its grammar
signature equals the grammar's — otherwise it builds them as before.  This module, imported by
:mod:`rules` before anything imports rule-engine, puts a table file written once per
rule-engine version (under ``$ZHIDA_DATA_DIR/cache/``) in that place.  A stale or damaged file
costs nothing but the time: PLY checks the signature and rebuilds.

The cache is only a cache: if the data directory cannot be written, nothing is cached and
nothing fails.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path

__all__ = ["TABLE_MODULE", "install", "table_path"]

TABLE_MODULE = "rule_engine.parser.parsetab"


def table_path(data_dir: Path) -> Path:
    """Where the tables of the installed rule-engine version are kept under ``data_dir``."""
    version = metadata.version("rule-engine")
    return data_dir / "cache" / f"rule_engine_{version}_parsetab.py"


def install(data_dir: Path | None = None) -> bool:
    """Make rule-engine read cached tables on import; write them first if there are none.

    Returns whether cached tables were installed (``False`` when rule-engine was already
    imported, or the cache could not be read or written).
    """
    if "rule_engine" in sys.modules or TABLE_MODULE in sys.modules:
        return False
    if data_dir is None:
        from core.settings import get_settings

        data_dir = get_settings().data_dir
    try:
        path = table_path(data_dir)
        if not path.exists():
            _write(path)  # this process has built the parser now; later ones read the file
            return False
        spec = importlib.util.spec_from_file_location(TABLE_MODULE, path)
        if spec is None or spec.loader is None:
            return False
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (OSError, SyntaxError, ValueError, metadata.PackageNotFoundError):
        return False
    sys.modules[TABLE_MODULE] = module
    return True


def _write(path: Path) -> None:
    """Build the tables once (importing rule-engine) and write them atomically to ``path``."""
    from rule_engine._vendor.ply import yacc
    from rule_engine.parser import Parser

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        name = "parsetab_new"
        yacc.yacc(
            module=Parser(),
            debug=False,
            write_tables=True,
            outputdir=scratch,
            tabmodule=name,
            errorlog=yacc.NullLogger(),
        )
        os.replace(Path(scratch) / f"{name}.py", path)


install()
