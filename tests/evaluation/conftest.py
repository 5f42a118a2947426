"""Shared fixtures: the BFCL golden excerpt, the real BFCL data when present, a tiny random LM."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTDATA = Path(__file__).parent / "testdata"
GOLDEN_BFCL = TESTDATA / "bfcl"


@pytest.fixture(scope="session")
def golden_bfcl_dir() -> Path:
    return GOLDEN_BFCL


@pytest.fixture(scope="session")
def real_bfcl():
    """The full BFCL data from $TOOLSWEEP_BFCL_WHEEL or an installed bfcl_eval, else skip."""
    from toolsweep.evaluation.bfcl import WHEEL_ENV, installed_data_dir, open_bfcl

    if not os.environ.get(WHEEL_ENV) and installed_data_dir() is None:
        pytest.skip(f"full BFCL data not available: set {WHEEL_ENV} to a wheel from "
                    "`pip download --no-deps bfcl-eval` or install bfcl-eval")
    return open_bfcl()


@pytest.fixture(scope="session")
def tiny_lm():
    from toolsweep.evaluation.testing import build_tiny_lm

    return build_tiny_lm(seed=0)
