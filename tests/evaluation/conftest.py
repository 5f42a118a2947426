"""Shared fixtures: the BFCL golden excerpt, the real BFCL data and checker, a tiny random LM."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

TESTDATA = Path(__file__).parent / "testdata"
GOLDEN_BFCL = TESTDATA / "bfcl"

# The bfcl-eval release the scorer is held against (its data and its ast_checker).
BFCL_REQUIREMENT = "bfcl-eval==2026.3.23"
BFCL_WHEEL_NAME = "bfcl_eval-2026.3.23-py3-none-any.whl"
BFCL_WHEEL_SHA256 = "3bb6dfa5f0c68ad403c9ec50b00db2bb3b4cc9b38ab1ff33f48fe30d853d3a0a"


@pytest.fixture(scope="session")
def golden_bfcl_dir() -> Path:
    return GOLDEN_BFCL


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _how_to_provide(cached: Path) -> str:
    from toolsweep.data.bfcl import WHEEL_ENV

    return (f"run `pip download --no-deps {BFCL_REQUIREMENT} -d DIR` where the package registry is reachable, "
            f"then set {WHEEL_ENV}=DIR/{BFCL_WHEEL_NAME} or copy the wheel to {cached} "
            "(TOOLSWEEP_CACHE moves the cache)")


@pytest.fixture(scope="session")
def bfcl_wheel() -> Path:
    """BFCL's wheel (data and checker): ``$TOOLSWEEP_BFCL_WHEEL`` (a wheel, or a folder holding the
    ``bfcl_eval`` package), else the cached copy, else ``pip download`` into the cache (sha256 checked).

    Fails, never skips, when none works: the scorer's agreement with BFCL must not go untested quietly."""
    from toolsweep.data.bfcl import WHEEL_ENV
    from toolsweep.models.packaged import cache_root

    cached = cache_root() / "bfcl" / BFCL_WHEEL_NAME
    given = os.environ.get(WHEEL_ENV)
    if given:
        path = Path(given).expanduser()
        if (path.is_file() and path.suffix == ".whl") or (path / "bfcl_eval" / "eval_checker").is_dir():
            return path
        pytest.fail(f"{WHEEL_ENV}={given} is neither a bfcl-eval wheel nor a folder holding bfcl_eval/; "
                    + _how_to_provide(cached))
    if cached.is_file() and _sha256(cached) == BFCL_WHEEL_SHA256:
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--retries", "1", "--timeout", "30", "--dest", tmp,
                   BFCL_REQUIREMENT]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheel = Path(tmp) / BFCL_WHEEL_NAME
        if done.returncode != 0 or not wheel.is_file():
            tail = ((done.stderr or done.stdout).strip().splitlines() or ["no output"])[-1]
            pytest.fail(f"BFCL's wheel is needed and pip could not fetch {BFCL_REQUIREMENT} ({tail}); "
                        + _how_to_provide(cached))
        digest = _sha256(wheel)
        if digest != BFCL_WHEEL_SHA256:
            pytest.fail(f"pip fetched {BFCL_REQUIREMENT} with sha256 {digest}, not the pinned {BFCL_WHEEL_SHA256}; "
                        + _how_to_provide(cached))
        os.replace(wheel, cached)
    return cached


@pytest.fixture(scope="session")
def real_bfcl(bfcl_wheel):
    """The full BFCL data, read from :func:`bfcl_wheel`."""
    from toolsweep.data.bfcl import open_bfcl

    return open_bfcl(bfcl_wheel)


@pytest.fixture(scope="session")
def tiny_lm():
    from toolsweep.evaluation.testing import build_tiny_lm

    return build_tiny_lm(seed=0)
