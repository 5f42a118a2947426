"""Shared fixtures for the data tests: generated sets are built once per session (they are pure)."""

from __future__ import annotations

import pytest

from toolsweep.data import builtin_dataset

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def splits() -> dict[str, list[dict]]:
    """600 examples per split over the target catalogue, seed 0 (the phrasing templates training uses)."""
    return {split: builtin_dataset(split, 600, seed=0) for split in ("train", "validation", "test")}


@pytest.fixture(scope="session")
def unseen_phrasing() -> list[dict]:
    """600 test examples worded with the templates training never uses (the unseen_phrasing slice)."""
    return builtin_dataset("test", 600, seed=0, phrasing="unseen")


@pytest.fixture
def fixtures_dir():
    return FIXTURES
