"""A finished sweep's run directory, read back as typed records for report, export, W&B and the Python API.

``toolsweep run`` leaves ``summary.json`` (every trial's status, values, metrics, the best trial and the
rule that picked it), ``sweep.json`` (the validated spec) and ``trials/<id>/config.json`` (each trial's
resolved spec). Everything after the sweep reads those files rather than Ray's experiment state, so a report
or an export works without Ray and on a copy of the run directory. ``summary.json`` becomes a
``SweepSummary`` here, once; the rest of ``analysis/`` uses its attributes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolsweep.config.schema import SweepSpec
from toolsweep.errors import UserError
from toolsweep.ranking import best_trial
from toolsweep.records import Mode, SweepSummary, TrialRecord

__all__ = ["RunDir", "load_run"]


@dataclass(frozen=True)
class RunDir:
    """The parsed outputs of one ``toolsweep run``."""

    path: Path
    summary: SweepSummary
    sweep: dict[str, Any]
    """``sweep.json``: ``source`` (the sweep file), ``spec`` (validated, searched fields at their defaults) and
    ``space`` (the searched fields' dotted paths)."""

    @property
    def name(self) -> str:
        return self.summary.name or self.path.name

    @property
    def metric(self) -> str:
        return self.summary.metric

    @property
    def mode(self) -> Mode:
        return self.summary.mode

    @property
    def rule(self) -> str:
        return self.summary.rule

    @property
    def trials(self) -> list[TrialRecord]:
        return list(self.summary.trials)

    @property
    def searched(self) -> list[str]:
        """Dotted paths of the searched fields, in a stable order."""
        return sorted(self.sweep.get("space") or {key for t in self.trials for key in t.config})

    @property
    def spec(self) -> SweepSpec:
        """The sweep's spec with every searched field at its default candidate."""
        return SweepSpec.model_validate_json(json.dumps(self.sweep["spec"]))

    def trial(self, trial_id: str) -> TrialRecord:
        for trial in self.trials:
            if trial.trial_id == trial_id:
                return trial
        raise UserError(f"{self.path}: no trial {trial_id!r}; trials: {[t.trial_id for t in self.trials]}")

    def best(self) -> TrialRecord:
        """The winner by the sweep's pick rule (recomputed with ``summary.best_trial`` so both agree)."""
        best = best_trial(self.trials, self.metric, self.mode)
        if best is None:
            raise UserError(
                f"{self.path}: no trial completed with {self.metric!r}, so there is no winner; "
                "look at the failure reasons with `toolsweep report`, fix them and run the sweep again"
            )
        return best

    def trial_dir(self, trial: TrialRecord) -> Path:
        """The trial's work directory, relative to this run directory (so a moved run dir still works)."""
        return self.path / "trials" / trial.trial_id

    def trial_spec(self, trial: TrialRecord) -> SweepSpec:
        """The trial's resolved spec as the trial itself recorded it."""
        path = self.trial_dir(trial) / "config.json"
        if not path.is_file():
            raise UserError(f"{path} is missing; the trial never started or its directory was removed")
        return SweepSpec.model_validate_json(path.read_text())

    def stage_dirs(self, trial: TrialRecord) -> dict[str, Path]:
        """Where the trial's stages trained: SFT in the sweep's stage cache under the trial's recipe (or in the
        trial's own directory when stages are not shared), DPO in the trial's directory."""
        from toolsweep.trainers.stage_cache import sft_stage_dir

        own = self.trial_dir(trial)
        cached = sft_stage_dir(self.path / "stage_cache", self.trial_spec(trial))
        return {"sft": cached if cached.is_dir() else own / "sft", "dpo": own / "dpo"}

    def trial_result(self, trial: TrialRecord) -> dict[str, Any]:
        """``result.json`` of a finished trial: the final ``model_dir`` and its metrics."""
        path = self.trial_dir(trial) / "result.json"
        if not path.is_file():
            raise UserError(f"{path} is missing; trial {trial.trial_id} did not finish")
        return json.loads(path.read_text())

    def model_dir(self, trial: TrialRecord) -> Path:
        """The trial's final weights (adapter or full model), moved along with the run directory if needed."""
        recorded = Path(self.trial_result(trial)["model_dir"])
        if recorded.is_dir():
            return recorded
        old_root = Path(self.summary.run_dir or self.path)
        try:
            moved = self.path / recorded.relative_to(old_root)
        except ValueError:
            moved = recorded
        if not moved.is_dir():
            raise UserError(f"the weights of trial {trial.trial_id} are gone ({recorded}); "
                            "export needs the run directory as `toolsweep run` left it")
        return moved

    def leaderboard(self) -> Any:
        """Every trial as a pandas DataFrame, best first (what ``toolsweep report`` writes as CSV)."""
        from toolsweep.analysis.leaderboard import leaderboard_frame

        return leaderboard_frame(self)

    def read_json(self, name: str) -> dict[str, Any] | None:
        path = self.path / name
        return json.loads(path.read_text()) if path.is_file() else None


def load_run(run_dir: str | Path) -> RunDir:
    """Read RUN_DIR; raise UserError saying what to run when it is not a finished sweep."""
    path = Path(run_dir).expanduser().resolve()
    if not path.is_dir():
        raise UserError(f"RUN_DIR {path} does not exist; pass the directory `toolsweep run` printed")
    summary_path = path / "summary.json"
    if not summary_path.is_file():
        raise UserError(f"RUN_DIR {path} has no summary.json; run `toolsweep run` first (or --resume it)")
    sweep_path = path / "sweep.json"
    if not sweep_path.is_file():
        raise UserError(f"RUN_DIR {path} has no sweep.json; it was not written by `toolsweep run`")
    try:
        summary = SweepSummary.from_dict(json.loads(summary_path.read_text()))
    except UserError as exc:
        raise UserError(f"RUN_DIR {path}: {exc}") from None
    sweep = json.loads(sweep_path.read_text())
    return RunDir(path=path, summary=summary, sweep=sweep)
