"""Real sweeps through Ray Tune on the CPU with a tiny random model: early stopping, failures and
retries, shared SFT stages, and resume after the driver is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_tiny_sweep
from toolsweep.config import load_sweep
from toolsweep.records import SweepSummary

pytestmark = pytest.mark.slow


def _run(path: Path, analyze: bool = False) -> SweepSummary:
    """The sweep; the variants and report only where a test checks them (they cost a Ray task and a DPO run)."""
    from toolsweep.sweeps.driver import run_sweep

    return run_sweep(load_sweep(path), analyze=analyze)


def _attempts(trial_dir: str) -> list[dict]:
    return [json.loads(line) for line in (Path(trial_dir) / "attempts.jsonl").read_text().splitlines()]


def test_asha_stops_a_poor_trial_early(tiny_model_dir: Path, tmp_path: Path, ray_local) -> None:
    # Training loss separates the learning rates reliably even on a random model. ASHA judges a trial
    # against those that reached the rung before it, so the good rates run first.
    path = write_tiny_sweep(
        tmp_path, tiny_model_dir, "asha",
        sft={"learning_rate": {"grid": [1.0e-2, 5.0e-3, 1.0e-5, 1.0e-6]}, "max_steps": 8},
        search={"scheduler": "asha", "metric": "sft/loss", "mode": "min", "max_concurrent_trials": 2,
                "scheduler_options": {"grace_period": 1, "reduction_factor": 2}},
    )
    summary = _run(path)
    statuses = [t.status for t in summary.trials]
    assert len(statuses) == 4
    assert "stopped" in statuses, statuses
    best = next(t for t in summary.trials if t.trial_id == summary.best_trial)
    assert best.config["sft.learning_rate"] >= 5e-3


def test_a_raising_trial_is_retried_then_failed_and_the_sweep_goes_on(tiny_model_dir: Path, tmp_path: Path, ray_local) -> None:
    path = write_tiny_sweep(
        tmp_path, tiny_model_dir, "failing",
        lora={"target_modules": {"grid": [["q_proj", "v_proj"], ["no_such_module"]]}},
        search={"max_failures": 1},
    )
    summary = _run(path)
    by_status = {t.status: t for t in summary.trials}
    assert set(by_status) == {"completed", "failed"}
    failed = by_status["failed"]
    assert "no_such_module" in failed.reason
    attempts = _attempts(failed.trial_dir)
    gave_up = [bool(a.get("gave_up")) for a in attempts]
    assert gave_up.index(True) == 1  # the first run and one retry trained; the retry's crash was one too many
    assert all(gave_up[1:])  # restarts Ray still had room for (out-of-memory ones) did not train
    assert summary.best_trial == by_status["completed"].trial_id


def test_two_dpo_trials_with_the_same_sft_recipe_run_sft_once(tiny_model_dir: Path, tmp_path: Path, ray_local) -> None:
    path = write_tiny_sweep(tmp_path, tiny_model_dir, "shared", dpo={"beta": {"grid": [0.1, 0.5]}})
    summary = _run(path)
    assert [t.status for t in summary.trials] == ["completed", "completed"]
    assert sorted(t.metrics["sft/cached"] for t in summary.trials) == [0.0, 1.0]
    cache = Path(summary.run_dir) / "stage_cache"
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 1
    for trial in summary.trials:
        assert not (Path(trial.trial_dir) / "sft").exists()  # SFT lives in the cache, not per trial


def test_resume_after_sigkill_does_not_rerun_finished_trials(tiny_model_dir: Path, tmp_path: Path) -> None:
    path = write_tiny_sweep(tmp_path, tiny_model_dir, "killed", lora={"r": {"grid": [2, 4]}},
                       search={"max_concurrent_trials": 1})
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    command = [sys.executable, "-m", "toolsweep", "run", str(path)]
    driver = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    trials = tmp_path / "runs" / "killed" / "trials"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not list(trials.glob("*/result.json")):
            time.sleep(0.5)
        finished = {p.parent.name: p.stat().st_mtime_ns for p in trials.glob("*/result.json")}
        assert finished, "no trial finished before the deadline"
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local Ray it started
        driver.wait()
    resumed = subprocess.run([*command, "--resume"], check=False, env=env, capture_output=True, text=True, timeout=400)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((tmp_path / "runs" / "killed" / "summary.json").read_text())
    assert sorted(t["status"] for t in summary["trials"]) == ["completed"] * 2
    for trial_id, mtime in finished.items():
        assert (trials / trial_id / "result.json").stat().st_mtime_ns == mtime
        assert not any(not a["reused_result"] for a in _attempts(str(trials / trial_id))[1:])


def test_a_sweep_on_your_own_tools_picks_on_their_holdout_and_reports_each_test_set(
        tiny_model_dir: Path, tmp_path: Path, ray_local) -> None:
    """configs/own_tools.yaml reduced: train on a user file, validate on a holdout of it, test on a second user
    file and on the bundled split; every report names both test sets."""
    from toolsweep.analysis.report import build_report

    own = Path(__file__).parents[2] / "examples" / "own_tools"
    path = write_tiny_sweep(
        tmp_path, tiny_model_dir, "own",
        data={"sources": {"mine": {"path": str(own / "train.jsonl")}}, "validation": {"holdout": 0.05},
              "test": {"mine": {"path": str(own / "test.jsonl"), "examples": 6}, "bundled": {"builtin": "test", "examples": 4}}},
    )
    summary = _run(path, analyze=True)  # one trial: what is under test is where each set comes from and where it is reported
    assert [t.status for t in summary.trials] == ["completed"]
    for trial in summary.trials:
        m = trial.metrics
        assert m["val/n_examples"] == 21  # 5 % of each tool's distinct rows of train.jsonl, rounded per tool
        assert m["test/n_examples"] == 6 and m["test/bundled/n_examples"] == 4
    report = build_report(summary.run_dir)
    import pandas as pd

    board = pd.read_csv(report["leaderboard_csv"])
    assert {"test/exact_match", "test/bundled/exact_match"} <= set(board.columns)
    assert all("bundled" in row for row in report["variants_rows"])
    assert report["variants"]["variants"]["base"]["bundled/n_examples"] == 4


def test_the_variants_task_takes_the_cpus_the_finished_sweep_held() -> None:
    from toolsweep.config.schema import SweepSpec
    from toolsweep.sweeps.driver import variants_cpus
    from toolsweep.trainers.hardware import torch_threads

    def spec(**search: object) -> SweepSpec:
        return SweepSpec.model_validate({"resources": {"cpus_per_trial": 1}, "search": search})

    assert variants_cpus(spec(max_concurrent_trials=2), [2.0]) == 2.0  # the quickstart: both cores
    assert variants_cpus(spec(max_concurrent_trials=4), [2.0, 3.0]) == 3.0  # one task: no more than a node has
    assert variants_cpus(spec(num_samples=3), [16.0]) == 3.0  # unbounded concurrency: at most one per trial
    assert variants_cpus(spec(max_concurrent_trials=2), []) == 1.0  # never below one trial's
    quickstart = SweepSpec.model_validate({"resources": {"cpus_per_trial": 0.66}, "search": {"max_concurrent_trials": 3}})
    assert torch_threads(variants_cpus(quickstart, [2.0])) == 2  # three trials of 0.66 CPU: both cores


def test_cpus_become_torch_threads_by_one_rule() -> None:
    from toolsweep.trainers.hardware import torch_threads

    assert [torch_threads(c) for c in (0.25, 0.66, 1.0, 1.5, 1.98, 2.0, 2.97, 4.0)] == [1, 1, 1, 1, 2, 2, 3, 4]
