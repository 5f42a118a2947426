"""Ray Tune's results turned into a ``SweepSummary``: every trial's status, values, metrics and cost, and the
winner. The only place where Ray's result objects become toolsweep records; everything after reads those.

Best pick rule (``toolsweep.ranking``): the highest (or lowest, per ``search.mode``) value of
``search.metric`` among trials that finished, ties broken by fewer resource-seconds. Trials stopped early by
the scheduler or failed are listed with their reason but never win.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolsweep import ranking
from toolsweep.config.loader import Sweep
from toolsweep.records import Status, SweepSummary, TrialRecord

__all__ = ["pick_rule", "summarize"]

_KEPT_PREFIXES = ("val/", "test/", "sft/exact_match", "sft/cached", "cost/", "dpo/rewards/accuracies")


def _status(result: Any) -> tuple[Status, str | None]:
    if result.error is not None:
        return "failed", str(result.error).strip().splitlines()[-1][:500]
    if (result.metrics or {}).get("trial/completed"):  # Tune sets its own "done" on stopped trials too
        return "completed", None
    return "stopped", "stopped early by the scheduler"


def pick_rule(sweep: Sweep) -> str:
    return ranking.pick_rule(sweep.spec.search.metric, sweep.spec.search.mode)


def _record(result: Any, sweep: Sweep, run_dir: Path) -> TrialRecord:
    """One Ray ``Result`` as a record: the searched values only, and the metrics analysis reads."""
    metrics = result.metrics or {}
    status, reason = _status(result)
    trial_id = metrics.get("trial_id") or Path(result.path).name
    return TrialRecord(
        trial_id=trial_id,
        status=status,
        reason=reason,
        config={k: v for k, v in (result.config or {}).items() if k in sweep.space},
        metrics={k: v for k, v in metrics.items()
                 if isinstance(v, (int, float)) and (k.startswith(_KEPT_PREFIXES) or k == sweep.spec.search.metric)},
        iterations=metrics.get("training_iteration", 0),
        checkpoint=result.checkpoint.path if result.checkpoint else None,
        trial_dir=str(run_dir / "trials" / trial_id),
    )


def summarize(results: Any, sweep: Sweep, run_dir: Path, storage: str | None = None) -> SweepSummary:
    """The summary of a finished ``tuner.fit()``; ``storage``: where the run lives (``RunStorage.uri``)."""
    trials = tuple(_record(result, sweep, run_dir) for result in results)
    search = sweep.spec.search
    best = ranking.best_trial(trials, search.metric, search.mode)
    return SweepSummary(
        name=sweep.spec.name,
        run_dir=str(run_dir),
        metric=search.metric,
        mode=search.mode,
        rule=pick_rule(sweep),
        best_trial=best.trial_id if best else None,
        trials=trials,
        storage=storage,
    )
