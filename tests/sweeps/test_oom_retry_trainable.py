"""The trainable's out-of-memory retries, each attempt called again the way Ray calls a failed trial again
(Ray's own restart in a fresh process is tested in test_oom_retry_ray.py): first with the pipeline faked, for
the wiring, then with the real pipeline and an OutOfMemoryError injected at a chosen SFT step."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import write_tiny_sweep
from toolsweep.config import load_sweep
from toolsweep.errors import TrialFailure
from toolsweep.sweeps.trainable import make_trainable
from toolsweep.trainers.failures import OutOfMemoryFailure
from toolsweep.trainers.oom_retry import read_attempts


@pytest.fixture
def tune_reports(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Tune's session calls answered in-process: one trial, ``trial_0``, whose reports are collected."""
    from ray import tune

    reports: list[dict[str, Any]] = []
    monkeypatch.setattr(tune, "report", lambda metrics, checkpoint=None: reports.append(metrics))
    monkeypatch.setattr(tune, "get_context", lambda: SimpleNamespace(get_trial_id=lambda: "trial_0"))
    return reports


def _attempts_until_done(trainable: Any, limit: int) -> list[BaseException]:
    """Call the trial again after each failure, as Ray does while ``max_failures`` allows; the errors seen."""
    errors: list[BaseException] = []
    for _ in range(limit):
        try:
            trainable({})
            return errors
        except Exception as exc:  # noqa: BLE001 - every failure is a retry here, as for Ray
            errors.append(exc)
    return errors


def _fake_pipeline(monkeypatch: pytest.MonkeyPatch, fail: Any) -> list[tuple[int, int, int, int, Path]]:
    from toolsweep.trainers import pipeline

    calls: list[tuple[int, int, int, int, Path]] = []

    def run_pipeline(spec: Any, out_dir: Path, reporter: Any = None, **kwargs: Any) -> Any:
        calls.append((spec.sft.batch_size, spec.sft.gradient_accumulation_steps, spec.dpo.batch_size,
                      spec.dpo.gradient_accumulation_steps, kwargs["sft_dir"]))
        fail(spec)
        return pipeline.PipelineResult(model_dir=None, metrics={"val/exact_match": 0.5})

    monkeypatch.setattr(pipeline, "run_pipeline", run_pipeline)
    return calls


def test_each_oom_halves_the_failing_stage_until_it_fits(tiny_model_dir: Path, tmp_path: Path, tune_reports: list,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(spec: Any) -> None:
        if spec.sft.batch_size > 1:
            raise OutOfMemoryFailure("out of memory in sft (fake)", "sft")
        if spec.dpo.batch_size > 2:
            raise OutOfMemoryFailure("out of memory in dpo (fake)", "dpo")

    calls = _fake_pipeline(monkeypatch, fail)
    sweep = load_sweep(write_tiny_sweep(tmp_path, tiny_model_dir, "fake", sft={"batch_size": 4}, dpo={"batch_size": 4}))
    errors = _attempts_until_done(make_trainable(sweep, tmp_path / "run"), limit=8)
    assert [call[:4] for call in calls] == [(4, 1, 4, 1), (2, 2, 4, 1), (1, 4, 4, 1), (1, 4, 2, 2)]
    assert len({call[4] for call in calls}) == 1  # every attempt trains SFT in the recipe's cache directory
    assert all(isinstance(e, TrialFailure) and e.kind == "oom" for e in errors) and len(errors) == 3
    assert "micro-batch 2 x 2 accumulation (same effective batch 4)" in str(errors[0])
    attempts = read_attempts(tmp_path / "run" / "trials" / "trial_0")
    assert [a["micro_batches"] for a in attempts] == [
        {"sft": [4, 1], "dpo": [4, 1]}, {"sft": [2, 2], "dpo": [4, 1]}, {"sft": [1, 4], "dpo": [4, 1]},
        {"sft": [1, 4], "dpo": [2, 2]}]
    assert [a.get("failure", {}).get("stage") for a in attempts] == ["sft", "sft", "dpo", None]
    assert tune_reports[-1]["trial/completed"] == 1.0


def test_at_micro_batch_one_the_trial_fails_with_oom_and_stays_failed(tiny_model_dir: Path, tmp_path: Path,
                                                                      tune_reports: list, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(spec: Any) -> None:
        raise OutOfMemoryFailure("out of memory in dpo (fake)", "dpo")

    calls = _fake_pipeline(monkeypatch, fail)
    sweep = load_sweep(write_tiny_sweep(tmp_path, tiny_model_dir, "hopeless", sft={"batch_size": 2}, dpo={"batch_size": 2}))
    errors = _attempts_until_done(make_trainable(sweep, tmp_path / "run"), limit=4)
    assert [call[2:4] for call in calls] == [(2, 1), (1, 2)]  # Ray's further retries do not train again
    assert len(errors) == 4 and all(e.kind == "oom" for e in errors)
    assert "even at micro-batch 1" in str(errors[1]) and "dpo.max_length" in str(errors[1])
    assert str(errors[2]) == str(errors[3]) == str(errors[1])
    attempts = read_attempts(tmp_path / "run" / "trials" / "trial_0")
    assert [bool(a.get("gave_up")) for a in attempts] == [False, True, True, True]
    assert not tune_reports


def test_other_failures_are_retried_with_the_same_micro_batch(tiny_model_dir: Path, tmp_path: Path, tune_reports: list,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    failures = iter([TrialFailure("nan", "sft: loss became nan at step 3"), ValueError("boom")])

    def fail(spec: Any) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure

    calls = _fake_pipeline(monkeypatch, fail)
    sweep = load_sweep(write_tiny_sweep(tmp_path, tiny_model_dir, "other", search={"max_failures": 2}))
    errors = _attempts_until_done(make_trainable(sweep, tmp_path / "run"), limit=4)
    assert [type(e).__name__ for e in errors] == ["TrialFailure", "ValueError"]  # raised unchanged
    assert len({call[:4] for call in calls}) == 1
    attempts = read_attempts(tmp_path / "run" / "trials" / "trial_0")
    assert [a.get("failure", {}).get("kind") for a in attempts] == ["nan", "exception", None]
    assert not any("retry" in a for a in attempts)


def test_out_of_memory_retries_do_not_spend_max_failures(tiny_model_dir: Path, tmp_path: Path, tune_reports: list,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """With search.max_failures 0, an out-of-memory trial still halves its way to a fitting micro-batch."""
    def fail(spec: Any) -> None:
        if spec.sft.batch_size > 1:
            raise OutOfMemoryFailure("out of memory in sft (fake)", "sft")

    calls = _fake_pipeline(monkeypatch, fail)
    sweep = load_sweep(write_tiny_sweep(tmp_path, tiny_model_dir, "oom0", search={"max_failures": 0}))
    errors = _attempts_until_done(make_trainable(sweep, tmp_path / "run"), limit=4)
    assert [call[:2] for call in calls] == [(4, 1), (2, 2), (1, 4)]
    assert [e.kind for e in errors] == ["oom", "oom"]  # type: ignore[attr-defined]
    assert tune_reports[-1]["trial/completed"] == 1.0


@pytest.mark.parametrize("max_failures", [0, 1])
def test_a_crash_past_max_failures_ends_the_trial_without_training_again(
        tiny_model_dir: Path, tmp_path: Path, tune_reports: list, monkeypatch: pytest.MonkeyPatch, max_failures: int) -> None:
    """Ray may restart the trial again (its budget covers out-of-memory retries too); the restart does not train,
    it fails with the crash's own reason, and keeps doing so."""
    def fail(spec: Any) -> None:
        raise ValueError("boom in the data")

    calls = _fake_pipeline(monkeypatch, fail)
    sweep = load_sweep(write_tiny_sweep(tmp_path, tiny_model_dir, "crash", search={"max_failures": max_failures}))
    errors = _attempts_until_done(make_trainable(sweep, tmp_path / "run"), limit=max_failures + 3)
    assert len(calls) == max_failures + 1  # the first run and max_failures retries; nothing after
    assert [type(e).__name__ for e in errors] == ["ValueError"] * (max_failures + 1) + ["TrialFailure"] * 2
    assert all(str(e) == "[exception] ValueError: boom in the data" for e in errors[max_failures + 1:])
    attempts = read_attempts(tmp_path / "run" / "trials" / "trial_0")
    assert [bool(a.get("gave_up")) for a in attempts] == [False] * max_failures + [True] * 3
    assert not tune_reports


@pytest.mark.slow
def test_a_real_trial_resumes_from_its_checkpoint_at_half_the_micro_batch(tiny_model_dir: Path, tmp_path: Path,
                                                                         tune_reports: list,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """SFT raises torch's OutOfMemoryError from step 3 while the micro-batch is above 1: the real pipeline
    classifies it, the trainable plans 4 -> 2 -> 1, and each retry resumes from checkpoint-2."""
    from trl import SFTTrainer

    from tests.sweeps.oom_injection import failing_training_step

    monkeypatch.setattr(SFTTrainer, "training_step", failing_training_step(SFTTrainer.training_step))
    sweep = load_sweep(write_tiny_sweep(tmp_path, tiny_model_dir, "real", sft={"batch_size": 4, "max_steps": 6, "eval_every": 2}))
    errors = _attempts_until_done(make_trainable(sweep, tmp_path / "run"), limit=4)
    assert [e.kind for e in errors] == ["oom", "oom"]
    attempts = read_attempts(tmp_path / "run" / "trials" / "trial_0")
    assert [a["micro_batches"]["sft"] for a in attempts] == [[4, 1], [2, 2], [1, 4]]
    assert "injected by a test at step 3" in attempts[0]["failure"]["message"]
    stage_files = list((tmp_path / "run" / "stage_cache").glob("sft-*/stage.json"))
    assert len(stage_files) == 1
    stage = json.loads(stage_files[0].read_text())
    assert stage["steps"] == 6 and stage["resumed_from_step"] == 2
    assert (stage["metrics"]["micro_batch_size"], stage["metrics"]["gradient_accumulation_steps"]) == (1.0, 4.0)
    assert tune_reports[-1]["trial/completed"] == 1.0


def test_the_report_lists_each_retried_trial(tmp_path: Path) -> None:
    from toolsweep.analysis.html_report import render_html
    from toolsweep.analysis.report import trial_retries
    from toolsweep.analysis.rundir import RunDir
    from toolsweep.records import SweepSummary

    records = {
        "a": [{"micro_batches": {"sft": [8, 1]}, "failure": {"kind": "oom", "stage": "sft"}, "retry": {"sft": [4, 2]}},
              {"micro_batches": {"sft": [4, 2]}}],
        "b": [{"micro_batches": {"sft": [8, 1]}, "failure": {"kind": "exception", "stage": "evaluation"}},
              {"micro_batches": {"sft": [8, 1]}}],
        "c": [{"micro_batches": {"sft": [8, 1]}}],
    }
    for trial_id, attempts in records.items():
        (tmp_path / "trials" / trial_id).mkdir(parents=True)
        (tmp_path / "trials" / trial_id / "attempts.jsonl").write_text("".join(json.dumps(a) + "\n" for a in attempts))
    summary = {"name": "s", "metric": "val/exact_match", "mode": "max", "rule": "r", "best_trial": None,
               "trials": [{"trial_id": t, "status": "completed", "config": {}, "metrics": {}} for t in records]}
    run = RunDir(tmp_path, SweepSummary.from_dict(summary), {"space": []})
    retries = trial_retries(run)
    assert retries == {"a": "1 out-of-memory retry: sft micro-batch 8 -> 4 (accumulation 1 -> 2)",
                       "b": "1 restart(s) after: exception"}
    import pandas as pd

    frame = pd.DataFrame([{"trial_id": t, "status": "completed", "best": False} for t in records])
    page = render_html(run, frame, None, [], {}, retries=retries)
    assert "<h2>Retries</h2>" in page and "sft micro-batch 8 -&gt; 4" in page
    assert "every trial ran in one attempt" in render_html(run, frame, None, [], {}, retries={})


def test_a_workers_out_of_memory_error_is_found_behind_ray_trains_error() -> None:
    from ray.train.v2.api.exceptions import WorkerGroupError

    from toolsweep.sweeps.trainable import _failure_of

    oom = OutOfMemoryFailure("out of memory in sft", "sft")
    assert _failure_of(WorkerGroupError("2 workers failed", {0: TrialFailure("exception", "x"), 1: oom})) is oom
    try:
        try:
            raise oom
        except TrialFailure as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as wrapped:
        assert _failure_of(wrapped) is oom
    assert _failure_of(ValueError("plain")) is None
