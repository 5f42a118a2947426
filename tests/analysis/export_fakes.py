"""Stand-ins that let ``export_winner`` run its staging, verification and publication steps without a
finished sweep or a model: a run whose best trial reported ``EXPECTED``, weights that are one small file,
and an optional hook inside the slow reload-and-score step (where a real export spends its minutes).

Shared by the in-process tests and by the subprocess an export is killed in, so both run the same code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolsweep.records import TrialRecord

EXPECTED = 0.5


class FakeRun:
    """The parts of ``RunDir`` that ``export_winner`` reads before staging."""

    name = "fake-sweep"

    def best(self) -> TrialRecord:
        return TrialRecord(trial_id="t1", status="completed", metrics={"test/exact_match": EXPECTED})

    def trial_spec(self, trial: TrialRecord) -> None:
        return None

    def model_dir(self, trial: TrialRecord) -> Path:
        return Path("/nonexistent-model")


def install(set_attr: Callable[[Any, str, Any], None], export: Any, *, while_scoring: Callable[[Path], None] | None = None) -> None:
    """Replace the model-specific steps of ``export`` (a module) with ``set_attr`` (setattr or monkeypatch's)."""

    def write_weights(spec: Any, model_dir: Path, target: Path, adapter_only: bool) -> str:
        (target / "model.safetensors").write_bytes(b"\0" * 64)
        return "merged"

    def reproduce(spec: Any, target: Path) -> dict[str, float]:
        if while_scoring is not None:
            while_scoring(target)
        return {"exact_match": EXPECTED}

    set_attr(export, "load_run", lambda run_dir: FakeRun())
    set_attr(export, "_write_weights", write_weights)
    set_attr(export, "_reproduce", reproduce)
    set_attr(export, "_provenance", lambda run, trial, spec, fmt, reproduced: {"trial_id": trial.trial_id, "format": fmt})
    set_attr(export, "_write_card", lambda target, provenance, run, out: (target / "README.md").write_text("card\n"))
