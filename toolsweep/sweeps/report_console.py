"""The end-of-sweep table printed by ``toolsweep run``: every trial, its values, status and scores, best first."""

from __future__ import annotations

from typing import Any

from toolsweep.evaluation.metrics import test_set_keys
from toolsweep.ranking import ranked, resource_seconds
from toolsweep.records import SweepSummary

__all__ = ["print_summary"]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def print_summary(summary: SweepSummary) -> None:
    """The trials in the pick rule's order (``toolsweep.ranking``), so the first row is the winner."""
    from rich.console import Console
    from rich.table import Table

    metric = summary.metric
    trials = summary.trials
    params = sorted({key for trial in trials for key in trial.config})
    tests = [key for key in test_set_keys(k for t in trials for k in t.metrics) if key != metric]
    table = Table(title=f"sweep {summary.name}: {len(trials)} trials", show_lines=False)
    for column in ["trial", "status", *params, metric, *(key.removesuffix("/exact_match") for key in tests), "resource-s"]:
        table.add_column(column, justify="right" if column not in ("trial", "status") else "left")
    for trial in ranked(trials, metric, summary.mode):
        m = trial.metrics
        mark = " *" if trial.trial_id == summary.best_trial else ""
        table.add_row(
            trial.trial_id + mark,
            trial.status if not trial.reason or trial.status == "stopped" else f"failed: {trial.reason[:60]}",
            *[_fmt(trial.config.get(p, "-")) for p in params],
            _fmt(m.get(metric, "-")),
            *[_fmt(m.get(key, "-")) for key in tests],
            _fmt(resource_seconds(trial)) if m else "-",
        )
    console = Console(width=None if Console().is_terminal else 160)
    console.print(table)
    console.print(f"best: {summary.best_trial or 'none (no trial completed)'} — rule: {summary.rule}")
    console.print(f"run directory: {summary.run_dir}")
