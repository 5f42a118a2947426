"""The pick rule, in one place: how trials are ordered and which one wins.

The best trial is the one with the highest (or lowest, per ``search.mode``) ``search.metric`` among trials
that completed, ties going to fewer resource-seconds (CPU plus GPU seconds). Stopped and failed trials never
win; in a leaderboard they follow the completed ones, ordered by their last reported score. The driver's
summary, the console table, the leaderboard, the report, export and W&B all rank with these functions, so
they cannot disagree. Plain functions on ``TrialRecord``s: no Ray.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from toolsweep.records import TrialRecord

__all__ = ["best_trial", "pick_rule", "rank_key", "ranked", "resource_seconds"]


def resource_seconds(trial: TrialRecord) -> float:
    """What a trial cost: its CPU-seconds plus GPU-seconds (wall time x resources held)."""
    metrics = trial.metrics
    return float(metrics.get("cost/cpu_seconds", 0.0) or 0.0) + float(metrics.get("cost/gpu_seconds", 0.0) or 0.0)


def pick_rule(metric: str, mode: str) -> str:
    direction = "highest" if mode == "max" else "lowest"
    return f"{direction} {metric} among completed trials; ties go to fewer resource-seconds"


def rank_key(trial: TrialRecord, metric: str, mode: str) -> tuple[float, float, float]:
    """Sort key, best first: completed-and-scored trials, then by score in ``mode``'s direction, then by cost."""
    value = trial.metrics.get(metric)
    scored = value is not None and not math.isnan(value)
    done = trial.status == "completed" and scored
    score = (value if mode == "max" else -value) if scored else -math.inf
    return (0.0 if done else 1.0, -score, resource_seconds(trial))


def ranked(trials: Iterable[TrialRecord], metric: str, mode: str) -> list[TrialRecord]:
    return sorted(trials, key=lambda trial: rank_key(trial, metric, mode))


def best_trial(trials: Iterable[TrialRecord], metric: str, mode: str) -> TrialRecord | None:
    """The winner by the pick rule, or None when no trial completed with the metric."""
    order = ranked(trials, metric, mode)
    return order[0] if order and rank_key(order[0], metric, mode)[0] == 0.0 else None
