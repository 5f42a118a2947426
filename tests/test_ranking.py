"""The pick rule: one implementation that the summary, leaderboard, report and export share."""

from __future__ import annotations

import math

from toolsweep.ranking import best_trial, pick_rule, ranked, resource_seconds
from toolsweep.records import TrialRecord


def _trial(trial_id: str, status: str, score: float | None, cpu: float, gpu: float = 0.0) -> TrialRecord:
    metrics = {"cost/cpu_seconds": cpu, "cost/gpu_seconds": gpu}
    if score is not None:
        metrics["val/exact_match"] = score
    return TrialRecord(trial_id=trial_id, status=status, metrics=metrics)


TRIALS = [
    _trial("stopped-high", "stopped", 0.9, 10),       # a scheduler stop never wins, however high its last score
    _trial("slow", "completed", 0.5, 300),
    _trial("cheap", "completed", 0.5, 100, 50),       # the tie goes to fewer CPU + GPU seconds: 150 < 300
    _trial("low", "completed", 0.2, 10),
    _trial("failed", "failed", None, 5),
    _trial("nan", "completed", math.nan, 1),           # a NaN score is no score
]


def test_highest_completed_wins_and_ties_go_to_the_cheaper() -> None:
    assert best_trial(TRIALS, "val/exact_match", "max").trial_id == "cheap"
    assert [t.trial_id for t in ranked(TRIALS, "val/exact_match", "max")] == [
        "cheap", "slow", "low", "stopped-high", "nan", "failed"]
    assert best_trial(TRIALS, "val/exact_match", "min").trial_id == "low"
    assert resource_seconds(TRIALS[2]) == 150


def test_no_completed_trial_means_no_winner() -> None:
    assert best_trial([TRIALS[0], TRIALS[4]], "val/exact_match", "max") is None
    assert best_trial([], "val/exact_match", "max") is None
    assert pick_rule("val/exact_match", "max").startswith("highest val/exact_match among completed trials")
