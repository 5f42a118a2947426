from __future__ import annotations

import math

import pytest

from toolsweep.search_spaces import (
    Choice,
    Grid,
    LogUniform,
    QUniform,
    RandInt,
    SearchSpaceError,
    Uniform,
    is_expression,
    parse_expression,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"choice": [8, 16, 32]}, Choice((8, 16, 32))),
        ({"grid": ["sigmoid", "ipo"]}, Grid(("sigmoid", "ipo"))),
        ({"uniform": [0.5, 2]}, Uniform(0.5, 2.0)),
        ({"loguniform": [1e-5, 1e-3]}, LogUniform(1e-5, 1e-3)),
        ({"quniform": [0, 1, 0.25]}, QUniform(0.0, 1.0, 0.25)),
        ({"randint": [2, 6]}, RandInt(2, 6)),
    ],
)
def test_parse_expression(raw: dict, expected: object) -> None:
    assert is_expression(raw)
    assert parse_expression(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"choice": []}, "non-empty list"),
        ({"grid": "abc"}, "non-empty list"),
        ({"uniform": [1, 1]}, "low < high"),
        ({"uniform": [0, "a"]}, "must be a number"),
        ({"loguniform": [-1, 1]}, "0 < low"),
        ({"quniform": [0, 1, 0]}, "q > 0"),
        ({"randint": [0.5, 2]}, "integers"),
        ({"randint": [5, 2]}, "low <= high"),
        ({"choice": [1], "grid": [2]}, "exactly one key"),
        ({"choice": [{"uniform": [0, 1]}]}, "cannot themselves"),
    ],
)
def test_malformed_expressions_say_what_is_allowed(raw: dict, fragment: str) -> None:
    with pytest.raises(SearchSpaceError, match=fragment):
        parse_expression(raw)


def test_defaults_lie_inside_their_domains() -> None:
    assert Choice((3, 4)).default() == 3
    assert Uniform(0.0, 2.0).default() == 1.0
    assert math.isclose(LogUniform(1e-4, 1e-2).default(), 1e-3)
    assert RandInt(1, 4).default() in range(1, 5)
    assert QUniform(0.0, 1.0, 0.25).default() == 0.5


def test_plain_mappings_are_not_expressions() -> None:
    assert not is_expression({"builtin": "simple", "weight": 1.0})
    assert not is_expression([1, 2])
