"""The variants table: what each stage of the winning recipe buys, on the held-out test split.

For the best configuration, four models are scored on the same test examples the trials were scored on:
the base model, the SFT stage alone (the cached SFT result the winner continued from), DPO alone (one
extra pipeline run with SFT disabled: the only new training, one DPO stage), and SFT+DPO (the winner's own
test metrics). It answers the question a sweep leaderboard cannot: did DPO help, and did SFT?
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from toolsweep.analysis.rundir import RunDir, load_run
from toolsweep.evaluation.metrics import test_set_keys
from toolsweep.records import TrialRecord

__all__ = ["VARIANTS", "VARIANTS_FILE", "compute_variants", "load_or_compute_variants", "variant_rows"]

VARIANTS_FILE = "variants.json"
VARIANTS = ("base", "sft", "dpo", "sft+dpo")
_LABELS = {"base": "base model", "sft": "SFT only", "dpo": "DPO only", "sft+dpo": "SFT+DPO"}


def _test_metrics(metrics: dict[str, float]) -> dict[str, float]:
    return {key[len("test/"):]: value for key, value in metrics.items() if key.startswith("test/")}


def _evaluate_base(spec: Any, out_dir: Path) -> dict[str, float]:
    from toolsweep.models.loading import configure_hub_access, load_tokenizer
    from toolsweep.trainers.pipeline import load_training_base

    configure_hub_access(spec.model.name)
    tokenizer = load_tokenizer(spec.model)
    base, _ = load_training_base(spec)  # as a trial loads it, so the base variant scores the trial's base
    return _evaluate_test(base.eval(), tokenizer, spec, out_dir)


def _evaluate_test(model: Any, tokenizer: Any, spec: Any, out_dir: Path) -> dict[str, float]:
    """The test metrics a trial reports (headline set and slices), without their ``test/`` prefix."""
    from toolsweep.data.prepare import named_test_sets
    from toolsweep.trainers.pipeline import evaluate_test_sets

    first, *others = sets = named_test_sets(spec)
    slices = {name: sets[name] for name in others}
    return _test_metrics(evaluate_test_sets(model, tokenizer, sets[first], slices, spec, out_dir))


def _sft_stage(run: RunDir, trial: TrialRecord) -> Any:
    from toolsweep.trainers.stages import completed_stage

    stage_dir = run.stage_dirs(trial)["sft"]
    done = completed_stage(stage_dir)
    if done is not None and not Path(done.model_dir).is_dir():  # the run directory was moved after the sweep
        done.model_dir = str(stage_dir / "final")
    return done


def _evaluate_sft(run: RunDir, trial: TrialRecord, spec: Any, out_dir: Path) -> dict[str, float] | None:
    from toolsweep.models.loading import configure_hub_access, load_tokenizer, load_trained
    from toolsweep.trainers.hardware import choose_precision

    done = _sft_stage(run, trial)
    if done is None:
        return None
    configure_hub_access(spec.model.name)
    tokenizer = load_tokenizer(spec.model)
    model = load_trained(spec.model, done.model_dir, choose_precision(spec.resources.precision).torch_dtype).eval()
    return _evaluate_test(model, tokenizer, spec, out_dir)


def _run_dpo_only(spec: Any, out_dir: Path) -> dict[str, float]:
    from toolsweep.trainers.pipeline import run_pipeline

    # One process, no DeepSpeed: a single DPO stage of a small adapter does not need a worker group.
    single = spec.resources.model_copy(update={"workers": 1, "deepspeed": None})
    dpo_only = spec.model_copy(update={"sft": spec.sft.model_copy(update={"enabled": False}), "resources": single})
    result = run_pipeline(dpo_only, out_dir, evaluate_test=True, validate_during_training=False)
    return _test_metrics(result.metrics)


def compute_variants(run_dir: str | Path, *, run_dpo_only: bool = True) -> dict[str, Any]:
    """Score the four variants of the best trial and write ``RUN_DIR/variants.json``; returns its content.

    Pure computation on the run directory (no Ray), so the driver can run it in a Ray task on a trial's
    resources and ``toolsweep report`` can run it in-process.
    """
    run = load_run(run_dir)
    trial = run.best()
    spec = run.trial_spec(trial)
    work = run.path / "variants"  # base/ sft/ dpo_only/<trial>/: failures and the extra DPO stage
    started = time.perf_counter()
    results: dict[str, dict[str, float] | None] = {name: None for name in VARIANTS}
    notes: dict[str, str] = {}
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Any) -> None:
        begin = time.perf_counter()
        results[name] = fn()
        seconds[name] = time.perf_counter() - begin

    timed("base", lambda: _evaluate_base(spec, work / "base"))
    if spec.sft.enabled:
        timed("sft", lambda: _evaluate_sft(run, trial, spec, work / "sft"))
        if results["sft"] is None:
            notes["sft"] = "the SFT stage of the best trial is no longer on disk"
    else:
        notes["sft"] = "the best trial has no SFT stage"
    if spec.dpo.enabled and spec.sft.enabled and run_dpo_only:
        timed("dpo", lambda: _run_dpo_only(spec, work / "dpo_only" / trial.trial_id))
    elif spec.dpo.enabled and not spec.sft.enabled:
        results["dpo"] = _test_metrics(trial.metrics)
        notes["dpo"] = "the best trial is DPO only"
    else:
        notes["dpo"] = "the best trial has no DPO stage" if not spec.dpo.enabled else "not computed"
    if spec.sft.enabled and spec.dpo.enabled:
        results["sft+dpo"] = _test_metrics(trial.metrics)
    elif spec.sft.enabled:
        results["sft"] = _test_metrics(trial.metrics)
        notes["sft+dpo"] = "the best trial has no DPO stage"
    content = {
        "trial_id": trial.trial_id,
        "test_examples": spec.data.test_examples,
        "config": trial.config,
        "variants": results,
        "notes": notes,
        "seconds": {**seconds, "total": time.perf_counter() - started},
    }
    (run.path / VARIANTS_FILE).write_text(json.dumps(content, indent=2))
    return content


def load_or_compute_variants(run_dir: str | Path) -> dict[str, Any]:
    """``variants.json`` when the sweep (or an earlier report) computed it for the current winner."""
    run = load_run(run_dir)
    existing = run.read_json(VARIANTS_FILE)
    best = run.best()
    if existing is not None and existing.get("trial_id") == best.trial_id:
        return existing
    print(f"[toolsweep] computing the variants table for {best.trial_id} (one extra DPO run)")
    return compute_variants(run.path)


def variant_rows(variants: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per variant: exact match on each test set (the headline first, then e.g. unseen_phrasing), then
    per category of the headline set, as fractions (None where not computed)."""
    computed = [metrics for metrics in variants["variants"].values() if metrics]
    categories = sorted({key.split("/", 1)[1] for metrics in computed for key in metrics if key.startswith("exact_match/")})
    further = [key[len("test/"):] for key in test_set_keys(f"test/{k}" for metrics in computed for k in metrics)][1:]
    rows = []
    for name in VARIANTS:
        metrics = variants["variants"].get(name) or {}
        row: dict[str, Any] = {"variant": _LABELS[name], "exact_match": metrics.get("exact_match")}
        for key in further:
            row[key.removesuffix("/exact_match")] = metrics.get(key)
        for category in categories:
            row[category] = metrics.get(f"exact_match/{category}")
        rows.append(row)
    return rows
