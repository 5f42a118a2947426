"""Sweeps on a real two-node Ray cluster (loopback addresses, token auth): trials spread over both nodes with
the run at an object-store URI, and a worker node killed mid-sweep whose trials resume elsewhere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tiny_sweep

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"  # as in conftest.py


# Checkpoints every 3 steps and retries, so a trial on a killed node resumes elsewhere; one CPU per trial.
CLUSTER_SECTIONS: dict[str, dict] = {"sft": {"eval_every": 3}, "search": {"max_failures": 2}, "resources": {"cpus_per_trial": 1}}


def _sweep_file(tmp_path: Path, model_dir: Path, name: str, store: str, **overrides: dict) -> Path:
    sections = {k: {**CLUSTER_SECTIONS.get(k, {}), **overrides.get(k, {})} for k in CLUSTER_SECTIONS.keys() | overrides.keys()}
    sections["storage"] = {"path": store, **overrides.get("storage", {})}
    return write_tiny_sweep(tmp_path, model_dir, name, **sections)


def _start_driver(cluster: Any, sweep: Path, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "toolsweep", "run", str(sweep), "--address", cluster.address]
    return subprocess.Popen(command, env=cluster.env, start_new_session=True, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _finish(driver: subprocess.Popen, log: Path, timeout: float) -> None:
    try:
        driver.wait(timeout=timeout)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    assert driver.returncode == 0, log.read_text()[-4000:]


def _checkpoint_step(trial_dir: Path) -> int:
    """The step of the trial's last complete SFT checkpoint (0 if none, or if SFT already finished)."""
    if (trial_dir / "sft" / "stage.json").exists():
        return 0
    steps = [int(p.parent.name.split("-")[1]) for p in trial_dir.glob("sft/checkpoint-*/trainer_state.json")]
    return max(steps, default=0)


def _attempts(trial_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (trial_dir / "attempts.jsonl").read_text().splitlines()]


def test_trials_run_on_both_nodes_with_the_run_at_a_uri(loopback_cluster, tiny_model_dir: Path,
                                                         tmp_path: Path) -> None:
    store = tmp_path / "bucket"
    # One SFT recipe, four DPO betas: the SFT stage is trained, published to the store, and reused by later
    # trials on either node (each node has its own scratch directory, as real machines would).
    sweep = _sweep_file(tmp_path, tiny_model_dir, "spread", f"file://{store}", dpo={"beta": {"grid": [0.1, 0.2, 0.3, 0.5]}})
    log = tmp_path / "driver.log"
    _finish(_start_driver(loopback_cluster, sweep, log), log, timeout=170)

    run = store / "spread"
    summary = json.loads((run / "summary.json").read_text())  # published to the store by the driver
    assert summary["storage"] == f"file://{run}"
    assert [t["status"] for t in summary["trials"]] == ["completed"] * 4
    nodes = {_attempts(run / "trials" / t["trial_id"])[-1]["node_ip"] for t in summary["trials"]}
    assert nodes == {HEAD_IP, WORKER_IP}
    assert sum(t["metrics"]["sft/cached"] for t in summary["trials"]) >= 2  # fetched from the store, not retrained
    markers = list((run / "stage_cache").glob("sft-*.json"))
    assert len(markers) == 1
    upload = json.loads(markers[0].read_text())["upload"]
    assert (run / "stage_cache" / markers[0].stem / upload / "stage.json").is_file()
    for trial in summary["trials"]:
        assert (run / "trials" / trial["trial_id"] / "result.json").is_file()
        assert (run / "tune").is_dir()


def test_a_worker_node_killed_mid_sweep_loses_only_its_running_trial(loopback_cluster,
                                                                     tiny_model_dir: Path, tmp_path: Path) -> None:
    runs = tmp_path / "shared-runs"  # a path every node sees, as an NFS/EFS mount would be
    sweep = _sweep_file(tmp_path, tiny_model_dir, "nodeloss", str(runs), lora={"r": {"grid": [2, 4, 6, 8]}},
                        sft={"max_steps": 24, "eval_every": 3}, storage={"share_stages": False})
    trials = runs / "nodeloss" / "trials"
    log = tmp_path / "driver.log"
    started = time.time()
    driver = _start_driver(loopback_cluster, sweep, log)
    victim, killed_at, step_at_kill, finished = None, 0.0, 0, {}
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and victim is None:
            # Kill once a trial has finished and the worker's running trial has an SFT checkpoint to resume from.
            finished = {p.parent.name: p.stat().st_mtime_ns for p in trials.glob("*/result.json")}
            for trial_dir in trials.glob("*"):
                attempts = _attempts(trial_dir) if (trial_dir / "attempts.jsonl").is_file() else []
                if (finished and attempts and attempts[-1]["node_ip"] == WORKER_IP and trial_dir.name not in finished
                        and 0 < _checkpoint_step(trial_dir) <= 12):  # early in its 24 SFT steps
                    victim = trial_dir
            time.sleep(0.2)
        assert victim is not None, "no trial reached a checkpoint on the worker node in time:\n" + log.read_text()[-3000:]
        killed_at, step_at_kill = time.time(), _checkpoint_step(victim)
        loopback_cluster.kill("worker")
    finally:
        if victim is None:
            os.killpg(driver.pid, signal.SIGKILL)
    _finish(driver, log, timeout=170)

    summary = json.loads((runs / "nodeloss" / "summary.json").read_text())
    failed = {t["trial_id"]: t["reason"] for t in summary["trials"] if t["status"] != "completed"}
    assert len(summary["trials"]) == 4 and not failed, f"{failed}\n{log.read_text()[-4000:]}"
    per_node: dict[str, int] = {}
    for trial in summary["trials"]:
        for attempt in _attempts(trials / trial["trial_id"]):
            per_node[attempt["node_ip"]] = per_node.get(attempt["node_ip"], 0) + 1
    retry = _attempts(victim)[-1]
    assert retry["node_ip"] == HEAD_IP and len(_attempts(victim)) == 2
    sft = json.loads((victim / "sft" / "stage.json").read_text())
    assert sft["resumed_from_step"] >= step_at_kill > 0, "the retried trial trained SFT from scratch"
    for trial_id, mtime in finished.items():  # finished trials are never re-run
        assert (trials / trial_id / "result.json").stat().st_mtime_ns == mtime
        assert len(_attempts(trials / trial_id)) == 1
    print(f"\nnode loss: attempts per node {per_node}; finished before the kill {len(finished)}; retry started "
          f"{retry['started'] - killed_at:.1f} s after the kill; checkpoint at kill step {step_at_kill}, SFT resumed "
          f"from step {sft['resumed_from_step']} of {sft['steps']}; sweep took {time.time() - started:.0f} s")
