"""A sweep's outcome as plain data: every trial's status, values, metrics and cost, and the winner.

Best pick rule: the highest (or lowest, per ``search.mode``) value of ``search.metric`` among trials that
finished, ties broken by fewer resource-seconds. Trials stopped early by the scheduler or failed are listed
with their reason but never win.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolsweep import ranking
from toolsweep.config.loader import Sweep
from toolsweep.ranking import best_trial

__all__ = ["pick_rule", "summarize"]

_KEPT_PREFIXES = ("val/", "test/", "sft/exact_match", "sft/cached", "cost/", "dpo/rewards/accuracies")


def _status(result: Any) -> tuple[str, str | None]:
    if result.error is not None:
        return "failed", str(result.error).strip().splitlines()[-1][:500]
    if (result.metrics or {}).get("trial/completed"):  # Tune sets its own "done" on stopped trials too
        return "completed", None
    return "stopped", "stopped early by the scheduler"


def pick_rule(sweep: Sweep) -> str:
    return ranking.pick_rule(sweep.spec.search.metric, sweep.spec.search.mode)


def summarize(results: Any, sweep: Sweep, run_dir: Path) -> dict[str, Any]:
    trials = []
    for result in results:
        metrics = result.metrics or {}
        status, reason = _status(result)
        trial_id = metrics.get("trial_id") or Path(result.path).name
        trials.append({
            "trial_id": trial_id,
            "status": status,
            "reason": reason,
            "config": {k: v for k, v in (result.config or {}).items() if k in sweep.space},
            "metrics": {k: v for k, v in metrics.items()
                        if isinstance(v, (int, float)) and (k.startswith(_KEPT_PREFIXES) or k == sweep.spec.search.metric)},
            "iterations": metrics.get("training_iteration", 0),
            "checkpoint": result.checkpoint.path if result.checkpoint else None,
            "trial_dir": str(run_dir / "trials" / trial_id),
        })
    search = sweep.spec.search
    best = best_trial(trials, search.metric, search.mode)
    return {
        "name": sweep.spec.name,
        "run_dir": str(run_dir),
        "metric": search.metric,
        "mode": search.mode,
        "rule": pick_rule(sweep),
        "best_trial": best["trial_id"] if best else None,
        "trials": trials,
    }
