"""Our plain-data search space → Ray Tune's sample domains, with conditional stage parameters.

Keys stay dotted field paths (``"dpo.beta"``), so a trial's config maps straight back onto the sweep
file through ``Sweep.resolve``. When a stage's ``enabled`` flag is itself searched, that stage's other
parameters are only sampled for trials where it is on (``tune.sample_from`` for random search,
define-by-run for Optuna); elsewhere they are None and ignored. Ray passes no random state to a
``sample_from`` function, so those draws come from a generator seeded from ``search.seed``: the same seed
gives the same trials.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from ray import tune

from toolsweep.errors import UserError
from toolsweep.search_spaces.domains import (
    Choice,
    Domain,
    Grid,
    LogUniform,
    QUniform,
    RandInt,
    Uniform,
    searcher_conflicts,
)

__all__ = ["OptunaDefineByRun", "WhenEnabled", "condition_of", "to_tune_domain", "to_tune_space"]

_STAGES = ("sft", "dpo", "lora")


def condition_of(path: str, space: dict[str, Domain]) -> str | None:
    """The searched ``<stage>.enabled`` path that gates ``path``, if any."""
    stage = path.split(".", 1)[0]
    gate = f"{stage}.enabled"
    return gate if stage in _STAGES and path != gate and gate in space else None


def to_tune_domain(domain: Domain, grid_choices: bool = False) -> Any:
    """One Domain as a Ray Tune domain; ``randint`` becomes inclusive of its upper bound."""
    if isinstance(domain, Grid) or (grid_choices and isinstance(domain, Choice)):
        return tune.grid_search(list(domain.values))
    if isinstance(domain, Choice):
        return tune.choice(list(domain.values))
    if isinstance(domain, Uniform):
        return tune.uniform(domain.low, domain.high)
    if isinstance(domain, LogUniform):
        return tune.loguniform(domain.low, domain.high)
    if isinstance(domain, QUniform):
        return tune.quniform(domain.low, domain.high, domain.q)
    assert isinstance(domain, RandInt)
    return tune.randint(domain.low, domain.high + 1)  # Ray's upper bound is exclusive, ours inclusive


class WhenEnabled:
    """A stage parameter sampled only when its stage's searched ``enabled`` flag is on (``tune.sample_from``).

    Ray's ``sample_from`` samplers ignore the searcher's random state, so this draws from its own generator,
    seeded from ``search.seed`` and the path and advanced once per enabled trial. A class rather than a
    closure, like ``OptunaDefineByRun``, because Ray pickles the space into its experiment checkpoint."""

    def __init__(self, domain: Any, gate: str, path: str, seed: int) -> None:
        self.domain = domain
        self.gate = gate
        self.rng = np.random.default_rng([seed % 2**32, zlib.crc32(path.encode())])

    def __deepcopy__(self, memo: dict[int, Any]) -> WhenEnabled:
        return self  # Ray deep-copies the space for every trial; each must advance the one generator

    def __call__(self, spec: Any) -> Any:
        if not spec.config[self.gate]:  # Ray resolves the gate first (it raises here until then)
            return None
        return self.domain.sample(random_state=self.rng)


def to_tune_space(space: dict[str, Domain], algorithm: str, seed: int = 0) -> dict[str, Any]:
    """The Tuner's ``param_space`` for ``algorithm`` (grid: every choice becomes a grid axis); ``seed`` is
    ``search.seed``, for the parameters sampled only when their stage is on."""
    conflicts = searcher_conflicts(space, algorithm)  # load_sweep reports these first, per field and line
    if conflicts and algorithm == "grid":
        raise UserError(f"search.algorithm: grid needs finite values, but {conflicts} are ranges; use choice/grid there")
    if conflicts:
        raise UserError(f"search.algorithm: {algorithm} cannot run grid expressions at {conflicts}; use choice there")
    tuned: dict[str, Any] = {}
    for path, domain in space.items():
        gate = condition_of(path, space)
        sampled = to_tune_domain(domain, grid_choices=algorithm == "grid")
        if gate is not None and algorithm == "random":
            tuned[path] = tune.sample_from(WhenEnabled(sampled, gate, path, seed))
        else:
            tuned[path] = sampled
    return tuned


class OptunaDefineByRun:
    """An Optuna define-by-run space: stage gates first, then only the parameters of enabled stages.

    A class rather than a closure because Ray pickles the searcher into its experiment checkpoint.
    """

    def __init__(self, space: dict[str, Domain]) -> None:
        self.space = space

    def __call__(self, trial: Any) -> None:
        space = self.space
        enabled: dict[str, Any] = {}
        for path in sorted(space, key=lambda p: condition_of(p, space) is not None):
            gate = condition_of(path, space)
            if gate is not None and not enabled.get(gate, True):
                continue
            domain = space[path]
            if isinstance(domain, Choice):
                value = trial.suggest_categorical(path, list(domain.values))
            elif isinstance(domain, RandInt):
                value = trial.suggest_int(path, domain.low, domain.high)
            elif isinstance(domain, QUniform):
                value = trial.suggest_float(path, domain.low, domain.high, step=domain.q)
            else:
                assert isinstance(domain, (Uniform, LogUniform))
                value = trial.suggest_float(path, domain.low, domain.high, log=isinstance(domain, LogUniform))
            if path.endswith(".enabled"):
                enabled[path] = value
