"""An out-of-memory trial in a real Ray sweep: Ray restarts it in a new process (so its memory is released)
until its SFT micro-batch fits, and the report shows the retries. The error is injected into every Ray worker
through Ray's own ``worker_process_setup_hook`` (tests/sweeps/oom_injection.py), not through the product."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import write_tiny_sweep
from toolsweep.config import load_sweep

pytestmark = pytest.mark.slow


def _ray_with_hook(hook_name: str):
    import ray
    from ray import cloudpickle

    from tests.sweeps import oom_injection
    from toolsweep.sweeps.ray_runtime import _runtime_env

    cloudpickle.register_pickle_by_value(oom_injection)  # workers cannot import the tests package
    if ray.is_initialized():
        ray.shutdown()  # the session's Ray has no hook; later tests start their own through ensure_ray
    ray.init(num_cpus=2, include_dashboard=False,
             runtime_env={**_runtime_env(), "worker_process_setup_hook": getattr(oom_injection, hook_name)})
    yield
    ray.shutdown()


@pytest.fixture
def ray_with_injected_oom():
    """A local Ray whose workers raise torch's OutOfMemoryError from SFT step 3 at micro-batches above 1."""
    yield from _ray_with_hook("install")


@pytest.fixture
def ray_with_injected_crash():
    """A local Ray whose workers raise a RuntimeError from SFT step 3."""
    yield from _ray_with_hook("install_crash")


def test_ray_retries_an_oom_trial_in_new_processes_at_half_the_micro_batch(tiny_model_dir: Path, tmp_path: Path,
                                                                          ray_with_injected_oom) -> None:
    """With search.max_failures 0: out-of-memory retries are not crashes, so they do not spend it."""
    from toolsweep.analysis.report import trial_retries
    from toolsweep.analysis.rundir import load_run
    from toolsweep.sweeps.driver import run_sweep
    from toolsweep.trainers.oom_retry import read_attempts

    path = write_tiny_sweep(tmp_path, tiny_model_dir, "oom", sft={"batch_size": 4, "max_steps": 6, "eval_every": 2},
                            search={"max_failures": 0})  # 4 -> 2 -> 1: two retries, not crashes
    summary = run_sweep(load_sweep(path), analyze=False)
    [trial] = summary.trials
    assert trial.status == "completed", trial.reason
    attempts = read_attempts(Path(trial.trial_dir))
    assert [a["micro_batches"]["sft"] for a in attempts] == [[4, 1], [2, 2], [1, 4]]
    assert [a.get("failure", {}).get("kind") for a in attempts] == ["oom", "oom", None]
    assert len({a["pid"] for a in attempts}) == 3  # each attempt ran in a process of its own
    [stage_file] = (Path(summary.run_dir) / "stage_cache").glob("sft-*/stage.json")
    stage = json.loads(stage_file.read_text())
    assert stage["resumed_from_step"] == 2 and stage["steps"] == 6
    micro, accumulation = stage["metrics"]["micro_batch_size"], stage["metrics"]["gradient_accumulation_steps"]
    assert (micro, accumulation) == (1.0, 4.0) and micro * accumulation == 4  # the effective batch of the recipe
    retries = trial_retries(load_run(summary.run_dir))
    assert retries == {trial.trial_id: "2 out-of-memory retries: sft micro-batch 4 -> 2 -> 1 (accumulation 1 -> 2 -> 4)"}


def test_a_crash_with_max_failures_zero_is_not_trained_again(tiny_model_dir: Path, tmp_path: Path,
                                                              ray_with_injected_crash) -> None:
    """Ray's budget has room for out-of-memory retries, so it restarts the crashed trial; the restart ends at once
    with the crash's reason, and the summary says so."""
    from toolsweep.sweeps.driver import run_sweep
    from toolsweep.trainers.oom_retry import read_attempts

    path = write_tiny_sweep(tmp_path, tiny_model_dir, "crash", sft={"batch_size": 4, "max_steps": 6, "eval_every": 2},
                            search={"max_failures": 0})
    summary = run_sweep(load_sweep(path), analyze=False)
    [trial] = summary.trials
    assert trial.status == "failed" and "injected crash at step 3" in trial.reason, trial.reason
    attempts = read_attempts(Path(trial.trial_dir))
    assert attempts[0]["failure"]["kind"] == "exception" and attempts[0]["gave_up"]
    assert all(a.get("gave_up") for a in attempts)  # every restart Ray made gave up without training
    assert not list((Path(summary.run_dir) / "stage_cache").glob("sft-*/stage.json"))  # SFT never finished
