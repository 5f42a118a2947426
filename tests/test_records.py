"""The typed run records read and write ``summary.json`` exactly as toolsweep always has, so run directories
from before the records existed still open, and a file that is not a summary says what is wrong with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolsweep.errors import UserError
from toolsweep.records import SweepSummary, TrialRecord

# summary.json as the dict-based driver wrote it (field order included), before records and `storage` existed.
OLD_SUMMARY = {
    "name": "old", "run_dir": "/runs/old", "metric": "val/exact_match", "mode": "max",
    "rule": "highest val/exact_match among completed trials; ties go to fewer resource-seconds",
    "best_trial": "a",
    "trials": [
        {"trial_id": "a", "status": "completed", "reason": None, "config": {"lora.r": 4, "lora.target_modules": ["q_proj"]},
         "metrics": {"val/exact_match": 0.5, "cost/cpu_seconds": 12.0, "cost/gpu_seconds": 0.0}, "iterations": 3,
         "checkpoint": "/runs/old/tune/a/checkpoint_000002", "trial_dir": "/runs/old/trials/a"},
        {"trial_id": "b", "status": "failed", "reason": "ValueError: no_such_module", "config": {"lora.r": 8,
         "lora.target_modules": "all-linear"}, "metrics": {}, "iterations": 0, "checkpoint": None,
         "trial_dir": "/runs/old/trials/b"},
    ],
}


def test_an_old_summary_reads_into_records_and_writes_back_byte_for_byte() -> None:
    summary = SweepSummary.from_dict(OLD_SUMMARY)
    assert summary.storage is None and summary.best_trial == "a"
    first, second = summary.trials
    assert (first.trial_id, first.status, first.iterations, first.config["lora.r"]) == ("a", "completed", 3, 4)
    assert (second.status, second.reason, second.checkpoint) == ("failed", "ValueError: no_such_module", None)
    assert json.dumps(summary.to_dict()) == json.dumps(OLD_SUMMARY)


def test_storage_is_written_last_when_the_driver_knows_it() -> None:
    data = {**OLD_SUMMARY, "storage": "s3://bucket/runs/old"}
    summary = SweepSummary.from_dict(data)
    assert summary.storage == "s3://bucket/runs/old"
    assert list(summary.to_dict()) == [*OLD_SUMMARY, "storage"] and summary.to_dict() == data


def test_a_trial_with_only_its_id_and_status_gets_the_defaults() -> None:
    trial = TrialRecord.from_dict({"trial_id": "t", "status": "stopped"})
    assert trial == TrialRecord(trial_id="t", status="stopped")
    assert (trial.config, trial.metrics, trial.iterations, trial.reason) == ({}, {}, 0, None)


@pytest.mark.parametrize(("change", "message"), [
    ({"mode": "maximize"}, "mode 'maximize'; expected one of \\['max', 'min'\\]"),
    ({"trials": [{"trial_id": "t", "status": "done"}]}, "trial t in summary.json has status 'done'"),
    ({"trials": [{"status": "completed"}]}, "a trial in summary.json has no 'trial_id'"),
])
def test_a_broken_summary_names_the_field(change: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        SweepSummary.from_dict({**OLD_SUMMARY, **change})


def test_load_run_names_the_file_that_is_not_a_summary(tmp_path: Path) -> None:
    from toolsweep.analysis.rundir import load_run

    (tmp_path / "summary.json").write_text(json.dumps({key: v for key, v in OLD_SUMMARY.items() if key != "metric"}))
    (tmp_path / "sweep.json").write_text(json.dumps({"spec": {"name": "old"}, "space": ["lora.r"]}))
    with pytest.raises(UserError, match=f"RUN_DIR {tmp_path.resolve()}: summary.json has no 'metric'"):
        load_run(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps(OLD_SUMMARY))
    run = load_run(tmp_path)
    assert run.best() is run.trial("a") and run.summary == SweepSummary.from_dict(OLD_SUMMARY)


def _toolsweep_imports(path: Path) -> set[str]:
    """Every ``toolsweep.*`` module a file imports, at module level or inside functions."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("toolsweep"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("toolsweep"))
    return found


def test_the_records_sit_below_everything_that_reads_them() -> None:
    """records and ranking are read by analysis/ and sweeps/ alike, so they import neither; analysis/ reads
    finished runs from disk and must not reach up into the Ray driver (sweeps/, cluster/) or the entry points."""
    package = Path(__file__).parents[1] / "toolsweep"
    assert _toolsweep_imports(package / "records.py") <= {"toolsweep.errors"}
    assert _toolsweep_imports(package / "ranking.py") <= {"toolsweep.records"}
    upward = ("toolsweep.sweeps", "toolsweep.cluster", "toolsweep.cli", "toolsweep.api")
    for module in sorted((package / "analysis").glob("*.py")):
        assert not [name for name in _toolsweep_imports(module) if name.startswith(upward)], module.name
