"""What a user watches while a sweep runs: Ray Tune's trial table with our columns, plus an ETA line."""

from __future__ import annotations

import time
from typing import Any

from ray.tune import Callback, CLIReporter

from toolsweep.config.loader import Sweep
from toolsweep.search_spaces.domains import Choice, Grid

__all__ = ["EtaCallback", "expected_trials", "progress_reporter"]


def expected_trials(sweep: Sweep) -> int:
    """Trials the sweep will run: ``num_samples`` times every grid point (choices count under grid search)."""
    points = 1
    for domain in sweep.space.values():
        if isinstance(domain, Grid) or (sweep.spec.search.algorithm == "grid" and isinstance(domain, Choice)):
            points *= len(domain.values)
    return sweep.spec.search.num_samples * points


def progress_reporter(sweep: Sweep) -> CLIReporter:
    """Status, the searched hyperparameters, the latest validation accuracy, iterations and seconds."""
    metric = sweep.spec.search.metric
    return CLIReporter(
        parameter_columns={path: path.split(".", 1)[-1] for path in sweep.space},
        metric_columns={metric: metric, "training_iteration": "iter", "cost/wall_seconds": "seconds"},
        max_report_frequency=30,
        sort_by_metric=True,
    )


class EtaCallback(Callback):
    """After each finished trial, print how many remain and a time estimate from the mean so far."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.started = time.perf_counter()
        self.finished = 0

    def _finished(self) -> None:
        self.finished += 1
        elapsed = time.perf_counter() - self.started
        remaining = max(0, self.total - self.finished)
        eta = elapsed / self.finished * remaining
        print(f"[toolsweep] {self.finished}/{self.total} trials finished, {elapsed / 60:.1f} min elapsed, "
              f"about {eta / 60:.1f} min to go", flush=True)

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._finished()

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._finished()
