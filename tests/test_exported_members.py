from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "package", ["core", "profiles", "rules", "matcher", "simulations.population"]
)
def test_every_exported_name_exists_and_is_sorted(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert exported == sorted(exported)
    for name in exported:
        assert hasattr(module, name), f"{package}.{name}"
