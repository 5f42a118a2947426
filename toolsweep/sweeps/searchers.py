"""Searchers and schedulers chosen by name from the sweep file; Ray and Optuna do the real work.

Every searcher is Ray Tune's own (BasicVariantGenerator for random and grid, OptunaSearch with a seeded
TPE sampler, HyperOptSearch); every scheduler is Ray's (FIFO, ASHA). This module only maps our
typed ``search`` section onto their constructors and says clearly when a combination cannot work.
"""

from __future__ import annotations

from typing import Any

from toolsweep.config.schema import SearchConfig
from toolsweep.search_spaces.domains import Domain
from toolsweep.sweeps.tune_domains import OptunaDefineByRun, to_tune_space

__all__ = ["build_scheduler", "build_searcher", "max_reports", "tpe_startup_trials"]


def build_searcher(search: SearchConfig, space: dict[str, Domain]) -> tuple[Any, dict[str, Any]]:
    """(search_alg, param_space) for the Tuner."""
    if not space:
        return None, {}
    if search.algorithm in ("random", "grid"):
        from ray.tune.search import BasicVariantGenerator

        # Ray ignores TuneConfig.max_concurrent_trials for this generator; it has its own limit.
        generator = BasicVariantGenerator(random_state=search.seed, max_concurrent=search.max_concurrent_trials or 0)
        return generator, to_tune_space(space, search.algorithm, search.seed)
    if search.algorithm == "optuna":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        to_tune_space(space, "optuna")  # validates the expressions for Optuna
        searcher = OptunaSearch(
            space=OptunaDefineByRun(space),
            metric=search.metric,
            mode=search.mode,
            sampler=optuna.samplers.TPESampler(seed=search.seed, n_startup_trials=tpe_startup_trials(search.num_samples)),
        )
        return searcher, {}
    from ray.tune.search.hyperopt import HyperOptSearch

    return HyperOptSearch(metric=search.metric, mode=search.mode, random_state_seed=search.seed), to_tune_space(space, "hyperopt")


def tpe_startup_trials(num_samples: int) -> int:
    """Random trials before TPE models the results: 4, or half of a smaller sweep.

    Optuna's default (10) would leave a laptop sweep of 4-8 trials purely random; with at most half of the
    budget spent at random, even a 4-trial sweep gets two trials that TPE chose from the first two results."""
    return max(1, min(4, num_samples // 2))


def max_reports(sft_steps: int, sft_every: int, dpo_steps: int, dpo_every: int) -> int:
    """Validation reports a full trial makes: ASHA's ``max_t`` in ``training_iteration`` units."""
    return max(1, -(-sft_steps // sft_every) + -(-dpo_steps // dpo_every) + 1)


def build_scheduler(search: SearchConfig, max_t: int) -> Any:
    """FIFO or ASHA; ``max_t`` is a full trial's reports (``max_reports``)."""
    options = search.scheduler_options
    if search.scheduler == "fifo":
        from ray.tune.schedulers import FIFOScheduler

        return FIFOScheduler()
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=max_t,
        grace_period=min(options.grace_period, max_t),
        reduction_factor=options.reduction_factor,
    )
