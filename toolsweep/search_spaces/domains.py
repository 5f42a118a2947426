"""Search-space expressions as plain, frozen data.

A sweep file may replace any scalar field with a one-key mapping such as ``{choice: [8, 16, 32]}`` or
``{loguniform: [1e-5, 1e-3]}``. This module parses those mappings into small dataclasses that know nothing
about Ray or Optuna: ``toolsweep.sweeps.tune_domains`` turns them into Ray Tune domains (``to_tune_space``)
and into an Optuna define-by-run space (``OptunaDefineByRun``). Keeping the space as data lets the config
loader check every candidate value against the field's own type and bounds before any trial runs.

Bounds, stated once because Ray is inconsistent about them: ``uniform``/``loguniform``/``quniform`` sample
the closed interval ``[low, high]``; ``randint`` includes BOTH ends (Ray's ``tune.randint`` excludes the
upper one, so ``to_tune_domain`` adds 1; Optuna's ``suggest_int`` includes it already).
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXPRESSION_KEYS",
    "Choice",
    "Domain",
    "Grid",
    "LogUniform",
    "QUniform",
    "RandInt",
    "SearchSpaceError",
    "Uniform",
    "brief_repr",
    "is_expression",
    "parse_expression",
    "searcher_conflicts",
]


class SearchSpaceError(ValueError):
    """A search-space expression is malformed; the message says what is allowed."""


@dataclass(frozen=True)
class Choice:
    """Sample one of ``values`` uniformly (or let the searcher model it as a categorical)."""

    values: tuple[Any, ...]

    def candidates(self) -> tuple[Any, ...]:
        return self.values

    def default(self) -> Any:
        return self.values[0]


@dataclass(frozen=True)
class Grid:
    """Every value is run (a Ray ``grid_search``), multiplied by ``search.num_samples``."""

    values: tuple[Any, ...]

    def candidates(self) -> tuple[Any, ...]:
        return self.values

    def default(self) -> Any:
        return self.values[0]


@dataclass(frozen=True)
class Uniform:
    """A float drawn uniformly from the closed interval ``[low, high]``."""

    low: float
    high: float

    def candidates(self) -> tuple[Any, ...]:
        return (self.low, self.high)

    def default(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True)
class LogUniform:
    """A float drawn uniformly in log space from ``[low, high]``; both bounds must be positive."""

    low: float
    high: float

    def candidates(self) -> tuple[Any, ...]:
        return (self.low, self.high)

    def default(self) -> float:
        return math.sqrt(self.low * self.high)


@dataclass(frozen=True)
class QUniform:
    """A float drawn uniformly from ``[low, high]`` and rounded to a multiple of ``q``."""

    low: float
    high: float
    q: float

    def candidates(self) -> tuple[Any, ...]:
        return (self.low, self.high)

    def default(self) -> float:
        return round(((self.low + self.high) / 2) / self.q) * self.q


@dataclass(frozen=True)
class RandInt:
    """An integer drawn uniformly from ``[low, high]``, both ends INCLUDED."""

    low: int
    high: int

    def candidates(self) -> tuple[Any, ...]:
        return (self.low, self.high)

    def default(self) -> int:
        return (self.low + self.high) // 2


Domain = Choice | Grid | Uniform | LogUniform | QUniform | RandInt

_FORMS = {
    "choice": "{choice: [v1, v2, ...]}",
    "grid": "{grid: [v1, v2, ...]}",
    "uniform": "{uniform: [low, high]}",
    "loguniform": "{loguniform: [low, high]} with 0 < low < high",
    "quniform": "{quniform: [low, high, q]} with q > 0",
    "randint": "{randint: [low, high]} with integers, both ends included",
}
EXPRESSION_KEYS = frozenset(_FORMS)


_REPR = reprlib.Repr()
_REPR.maxlevel = 4
_REPR.maxstring = _REPR.maxother = 120
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 12


def brief_repr(value: Any, limit: int = 200) -> str:
    """``repr(value)`` cut to at most ``limit`` characters, ending in "…" when cut.

    Error messages echo what the user wrote so they can find it, but a value can be megabytes (a long
    line, a huge list); ``reprlib`` abbreviates nested containers without building the full text first.
    """
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_expression(value: Any) -> bool:
    """True for a mapping that uses an expression key (it may still be malformed)."""
    return isinstance(value, dict) and any(key in EXPRESSION_KEYS for key in value)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SearchSpaceError(f"{what} must be a number, got {brief_repr(value)}")
    if not math.isfinite(value):
        raise SearchSpaceError(f"{what} must be a finite number, got {value!r}; give a real bound such as 1.0e-3")
    return float(value)


def _bounds(key: str, args: Any, arity: int = 2) -> list[float]:
    if not isinstance(args, list) or len(args) != arity:
        raise SearchSpaceError(f"expected {_FORMS[key]}, got {{{key}: {brief_repr(args)}}}")
    numbers = [_number(arg, f"{key} bound") for arg in args]
    if not numbers[0] < numbers[1]:
        raise SearchSpaceError(f"{key} needs low < high, got low={brief_repr(args[0])} high={brief_repr(args[1])}")
    return numbers


def parse_expression(value: dict[str, Any]) -> Domain:
    """Turn ``{key: args}`` from YAML into a Domain, or raise SearchSpaceError saying what is allowed."""
    keys = list(value)
    if len(keys) != 1:
        raise SearchSpaceError(
            f"a search expression has exactly one key, got {brief_repr(sorted(map(str, keys)))}; use one of "
            + ", ".join(_FORMS.values())
        )
    key = keys[0]
    args = value[key]
    if key not in EXPRESSION_KEYS:
        raise SearchSpaceError(f"unknown search expression {key!r}; use one of " + ", ".join(_FORMS.values()))
    if key in ("choice", "grid"):
        if not isinstance(args, list) or not args:
            raise SearchSpaceError(f"{key} needs a non-empty list of values, got {brief_repr(args)}")
        if any(isinstance(item, dict) and is_expression(item) for item in args):
            raise SearchSpaceError(f"{key} values cannot themselves be search expressions")
        return Choice(tuple(args)) if key == "choice" else Grid(tuple(args))
    if key == "randint":
        if not isinstance(args, list) or len(args) != 2 or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in args
        ):
            raise SearchSpaceError(f"expected {_FORMS['randint']}, got {{randint: {brief_repr(args)}}}")
        if not args[0] <= args[1]:
            raise SearchSpaceError(f"randint needs low <= high, got low={args[0]} high={args[1]}")
        return RandInt(args[0], args[1])
    if key == "quniform":
        low, high, q = _bounds(key, args, arity=3)
        if q <= 0:
            raise SearchSpaceError(f"quniform needs q > 0, got q={brief_repr(args[2])}")
        return QUniform(low, high, q)
    low, high = _bounds(key, args)
    if key == "loguniform":
        if low <= 0:
            raise SearchSpaceError(f"loguniform needs 0 < low, got low={brief_repr(args[0])}")
        return LogUniform(low, high)
    return Uniform(low, high)


def searcher_conflicts(space: dict[str, Domain], algorithm: str) -> list[str]:
    """Searched paths whose expression ``algorithm`` cannot run, in the space's order.

    Grid search enumerates, so it needs finite candidates (``choice``/``grid``); Optuna and HyperOpt
    sample, so a ``grid`` (run every value) means nothing to them. The config loader reports these at
    ``toolsweep validate`` and ``toolsweep.sweeps.tune_domains`` again when it builds Ray's space.
    """
    if algorithm == "grid":
        return [path for path, domain in space.items() if not isinstance(domain, (Choice, Grid))]
    if algorithm in ("optuna", "hyperopt"):
        return [path for path, domain in space.items() if isinstance(domain, Grid)]
    return []

