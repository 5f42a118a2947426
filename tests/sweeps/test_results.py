"""Ray Tune results → ``SweepSummary`` and the end-of-sweep table, with stand-ins for Ray's ``Result``
objects (no Ray started): what each trial's record keeps, which trial wins, and the order it is printed in."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from toolsweep.config.loader import load_sweep
from toolsweep.sweeps.report_console import print_summary
from toolsweep.sweeps.results import summarize


def _result(trial_id: str, score: float, cpu: float, *, completed: bool = True, error: Exception | None = None) -> SimpleNamespace:
    metrics = {"trial_id": trial_id, "val/exact_match": score, "sft/loss": 1.5, "training_iteration": 4,
               "cost/cpu_seconds": cpu, "cost/gpu_seconds": 0.0, "trial/completed": 1.0 if completed else 0.0,
               "config/lora.r": 2, "note": "text is dropped"}
    return SimpleNamespace(metrics=metrics, config={"lora.r": 2, "seed": 0}, error=error,
                           path=f"/ray/{trial_id}", checkpoint=None)


@pytest.fixture
def summary(tmp_path: Path):
    (tmp_path / "s.yaml").write_text("name: s\nlora:\n  r: {choice: [2, 4]}\n")
    results = [_result("slow", 0.5, 90.0), _result("early", 0.9, 5.0, completed=False),
               _result("broken", 0.0, 1.0, error=RuntimeError("Traceback ...\nValueError: no_such_module")),
               _result("cheap", 0.5, 30.0)]
    return summarize(results, load_sweep(tmp_path / "s.yaml"), tmp_path / "run", storage="file:///runs/s")


def test_each_trial_keeps_its_searched_values_and_the_metrics_analysis_reads(summary, tmp_path: Path) -> None:
    slow = summary.trials[0]
    assert slow.config == {"lora.r": 2}  # searched values only, not the fixed seed
    assert set(slow.metrics) == {"val/exact_match", "cost/cpu_seconds", "cost/gpu_seconds"}
    assert (slow.iterations, slow.trial_dir) == (4, str(tmp_path / "run" / "trials" / "slow"))
    assert [(t.status, t.reason) for t in summary.trials[1:3]] == [
        ("stopped", "stopped early by the scheduler"), ("failed", "ValueError: no_such_module")]
    assert summary.best_trial == "cheap"  # the stopped trial scored higher, but only completed trials win
    assert json.loads(json.dumps(summary.to_dict()))["storage"] == "file:///runs/s"


def test_the_console_table_lists_the_trials_in_the_pick_rules_order(summary, capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(summary)
    printed = capsys.readouterr().out
    rows = [line.split("│")[1].strip() for line in printed.splitlines() if line.startswith("│") and "│ trial" not in line]
    assert rows == ["cheap *", "slow", "early", "broken"]
    assert "resource-s" in printed and "best: cheap — rule: highest val/exact_match" in printed
