"""A sweep's outcome as typed records: one ``TrialRecord`` per trial, one ``SweepSummary`` per sweep.

``sweeps/`` builds them from Ray Tune's results and writes ``RUN_DIR/summary.json``; everything after the
sweep (report, export, variants, W&B, the Python API) reads that file back into these records once, in
``analysis.rundir``, and uses attributes from there on, so a misspelt field is an AttributeError at the line
that misspells it rather than a ``None`` three modules later. ``to_dict``/``from_dict`` keep the JSON
exactly as earlier toolsweep versions wrote it, so old run directories still open. Plain data: no Ray,
nothing heavy imported, so ``toolsweep.api`` and notebooks can use them without a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from toolsweep.errors import UserError

__all__ = ["MODES", "STATUSES", "Mode", "Status", "SweepSummary", "TrialRecord"]

Status = Literal["completed", "stopped", "failed"]
"""``completed``: the trial ran every stage and reported its test metrics; ``stopped``: the scheduler ended it
early (ASHA); ``failed``: it raised, after any retries. Only completed trials can win."""
STATUSES: tuple[str, ...] = get_args(Status)

Mode = Literal["max", "min"]
MODES: tuple[str, ...] = get_args(Mode)


def _required(data: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in data:
        raise UserError(f"{what} has no {key!r}; it was not written by `toolsweep run`: rerun the sweep "
                        "(or restore summary.json from the run directory it came from)")
    return data[key]


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the sweep recorded it at its end."""

    trial_id: str
    status: Status
    reason: str | None = None
    """Why a trial that did not complete stopped: the scheduler, or the last line of its error."""
    config: dict[str, Any] = field(default_factory=dict)
    """The searched values only, by dotted path (``{"lora.r": 8}``); the full spec is in ``trials/<id>/config.json``."""
    metrics: dict[str, float] = field(default_factory=dict)
    """The last report's numbers that analysis needs: ``val/``, ``test/``, ``cost/``, and the sweep metric."""
    iterations: int = 0
    checkpoint: str | None = None
    trial_dir: str | None = None
    """Where the trial ran; ``RunDir.trial_dir`` finds it again after the run directory moved."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialRecord:
        trial_id = str(_required(data, "trial_id", "a trial in summary.json"))
        status = _required(data, "status", f"trial {trial_id} in summary.json")
        if status not in STATUSES:
            raise UserError(f"trial {trial_id} in summary.json has status {status!r}; expected one of {list(STATUSES)}")
        return cls(
            trial_id=trial_id,
            status=cast(Status, status),
            reason=data.get("reason"),
            config=dict(data.get("config") or {}),
            metrics=dict(data.get("metrics") or {}),
            iterations=int(data.get("iterations") or 0),
            checkpoint=data.get("checkpoint"),
            trial_dir=data.get("trial_dir"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` form: every field, in the order the file has always had them."""
        return {"trial_id": self.trial_id, "status": self.status, "reason": self.reason, "config": self.config,
                "metrics": self.metrics, "iterations": self.iterations, "checkpoint": self.checkpoint,
                "trial_dir": self.trial_dir}


@dataclass(frozen=True)
class SweepSummary:
    """What ``toolsweep run`` returns and writes as ``RUN_DIR/summary.json``."""

    name: str
    run_dir: str
    """The run directory as the driver saw it; ``RunDir`` maps recorded paths under it onto a moved copy."""
    metric: str
    mode: Mode
    rule: str
    """The pick rule in words (``ranking.pick_rule``), recorded so a report says which rule chose the winner."""
    best_trial: str | None
    """The winner's id by that rule, or None when no trial completed with the metric."""
    trials: tuple[TrialRecord, ...] = ()
    storage: str | None = None
    """Where the run lives: ``STORAGE/NAME``, a path or an object-store URI (``cluster.storage``); None in runs
    from before it was recorded, and in summaries built by hand."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepSummary:
        mode = _required(data, "mode", "summary.json")
        if mode not in MODES:
            raise UserError(f"summary.json has mode {mode!r}; expected one of {list(MODES)}")
        return cls(
            name=str(data.get("name") or ""),
            run_dir=str(data.get("run_dir") or ""),
            metric=str(_required(data, "metric", "summary.json")),
            mode=cast(Mode, mode),
            rule=str(_required(data, "rule", "summary.json")),
            best_trial=data.get("best_trial"),
            trials=tuple(TrialRecord.from_dict(trial) for trial in _required(data, "trials", "summary.json")),
            storage=data.get("storage"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` form; ``storage`` only when known, as runs before it was recorded had none."""
        out = {"name": self.name, "run_dir": self.run_dir, "metric": self.metric, "mode": self.mode,
               "rule": self.rule, "best_trial": self.best_trial, "trials": [trial.to_dict() for trial in self.trials]}
        if self.storage is not None:
            out["storage"] = self.storage
        return out
