from __future__ import annotations

import importlib

import pytest


def _isort_style(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


@pytest.mark.parametrize(
    "package",
    [
        "core",
        "profiles",
        "rules",
        "rules.parameters",
        "matcher",
        "matcher.ranking",
        "notifier",
        "notifier.channels",
        "simulations.population",
    ],
)
def test_every_exported_name_exists_and_is_sorted(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert exported == sorted(exported, key=_isort_style)
    for name in exported:
        assert hasattr(module, name), f"{package}.{name}"
