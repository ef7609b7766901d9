"""Fixtures shared by the unit tests of emt."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A fresh generator for each test, seeded by the module's ``RNG_SEED``.

    The seed defaults to 0. Every test draws the same numbers on every run,
    in any order or selection of tests; a module that needs a particular
    stream sets ``RNG_SEED`` at its top.
    """
    seed = getattr(request.module, "RNG_SEED", 0)
    return np.random.default_rng(seed)


def pytest_collection_modifyitems(config, items):
    """Every notebook run by nbval counts as slow (``make test-fast`` leaves them out)."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
