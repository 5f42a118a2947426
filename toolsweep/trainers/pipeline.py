"""One trial as a plain function: typed spec → data → SFT → DPO → tool-calling evaluation → metrics.

This is what ``toolsweep train`` runs directly and what the Ray Tune trainable calls; it never imports Ray.
Results stream out through a ``Reporter`` callable. Each stage lives in its own directory under
``out_dir`` so that a crashed trial resumes from its last checkpoint and a finished stage is reused (the
sweep driver points ``sft_dir`` at the shared stage cache so that trials with the same SFT recipe share it).
``run_pipeline`` reads as its named steps: start (data, tokenizer, base), :func:`sft_step`, :func:`dpo_step`,
:func:`final_evaluation`, each given the :class:`TrialRun` they share.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase, set_seed

from toolsweep.config.schema import DPOStage, SFTStage, SweepSpec
from toolsweep.data.prepare import PreparedData, prepare_data
from toolsweep.errors import UserError
from toolsweep.models.loading import configure_hub_access, load_base, load_tokenizer, load_trained
from toolsweep.trainers import stages
from toolsweep.trainers.callbacks import MemoryTrimCallback, MetricsCallback, Reporter, ValidationCallback
from toolsweep.trainers.datasets import answer_length_report, length_report, preference_dataset, sft_dataset
from toolsweep.trainers.deepspeed import deepspeed_config
from toolsweep.trainers.failures import classify_failure
from toolsweep.trainers.hardware import Precision, choose_kernels, choose_precision
from toolsweep.trainers.lora import check_target_modules, peft_config

__all__ = ["PipelineResult", "TrialRun", "dpo_step", "evaluate_model", "evaluate_test_sets", "final_evaluation",
           "load_training_base", "run_pipeline", "sft_step"]


@dataclass
class PipelineResult:
    """Everything a trial produced: final weights, per-stage results, and flat metrics."""

    model_dir: str | None
    stages: dict[str, stages.StageResult] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def _ignore(metrics: dict[str, float]) -> None:
    return None


def _no_lock(path: Path) -> AbstractContextManager[None]:
    return nullcontext()


def evaluate_model(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, examples: list[dict[str, Any]], spec: SweepSpec,
    failures_path: Path | None = None,
) -> dict[str, float]:
    """Tool-calling metrics of ``model`` on ``examples`` (flat dict, ``exact_match`` is the headline)."""
    from toolsweep.evaluation.runner import evaluate

    report = evaluate(
        model,
        tokenizer,
        examples,
        batch_size=spec.eval.batch_size,
        max_new_tokens=spec.eval.max_new_tokens,
        failures_path=failures_path,
    )
    return report.metrics.to_flat_dict()


def when2call_metrics(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, data: PreparedData,
                      spec: SweepSpec) -> dict[str, float]:
    """When2Call's multiple-choice metrics (``when2call/...``) when the sweep names a When2Call file, else none.
    One forward pass per candidate and no generation, so it is cheap enough for every validation point."""
    if not data.when2call:
        return {}
    from toolsweep.evaluation.when2call import multiple_choice_eval

    return multiple_choice_eval(model, tokenizer, data.when2call, batch_size=spec.eval.batch_size or 8)


def evaluate_test_sets(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, test: list[dict[str, Any]],
                       slices: dict[str, list[dict[str, Any]]], spec: SweepSpec, out_dir: Path) -> dict[str, float]:
    """``test/...`` on the headline test set and ``test/<slice>/...`` on each further slice, each slice's
    failures in its own ``test[_<slice>]_failures.jsonl``."""
    metrics = _prefixed("test", evaluate_model(model, tokenizer, test, spec, out_dir / "test_failures.jsonl"))
    for name, examples in slices.items():
        failures = out_dir / f"test_{name}_failures.jsonl"
        metrics.update(_prefixed(f"test/{name}", evaluate_model(model, tokenizer, examples, spec, failures)))
    return metrics


def _length_checks(spec: SweepSpec, tokenizer: PreTrainedTokenizerBase, data: PreparedData) -> dict[str, float]:
    """Say (on stderr, and as ``data/*`` metrics) how many rows each stage's ``max_length`` would cut, and how
    many evaluation answers ``eval.max_new_tokens`` would."""
    metrics: dict[str, float] = {}
    reports = [length_report(stage, tokenizer, rows, getattr(spec, stage).max_length)
               for stage, rows in (("sft", data.train), ("dpo", data.pairs)) if getattr(spec, stage).enabled and rows]
    evaluated = [row for rows in (data.validation, data.test, *data.test_slices.values()) for row in rows
                 if isinstance(row, dict)]  # BFCL tasks carry no rendered reference answer
    if evaluated:
        reports.append(answer_length_report(tokenizer, evaluated, spec.eval.max_new_tokens))
    for report in reports:
        if report.over:
            print(f"[toolsweep] {report.message()}", file=sys.stderr)
        metrics.update(report.metrics())
    return metrics


def _prefixed(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}/{key}": value for key, value in metrics.items()}


def _callbacks(
    stage_name: str, every: int, spec: SweepSpec, tokenizer: PreTrainedTokenizerBase, data: PreparedData,
    reporter: Reporter, step_offset: int, validate: bool,
) -> list[Any]:
    callbacks: list[Any] = [MetricsCallback(stage_name, reporter, step_offset)]
    if spec.resources.gpus_per_trial == 0:
        callbacks.append(MemoryTrimCallback())
    if validate:
        subset = data.validation[: spec.eval.validation_subset]
        callbacks.append(ValidationCallback(stage_name, every, lambda m: {
            **evaluate_model(m, tokenizer, subset, spec), **when2call_metrics(m, tokenizer, data, spec)}, reporter))
    return callbacks


@dataclass
class TrialRun:
    """What the steps of one trial (:func:`sft_step`, :func:`dpo_step`, :func:`final_evaluation`) share,
    settled once at its start; ``running`` names the stage an out-of-memory failure is charged to."""

    spec: SweepSpec
    out_dir: Path
    report: Reporter
    data: PreparedData
    tokenizer: PreTrainedTokenizerBase
    setup: stages.TrainingSetup
    validate: bool  # validation points while training (rank 0 of a single worker only)
    distributed: bool
    is_main: bool
    result: PipelineResult
    running: str = "evaluation"  # or the stage training: an out-of-memory failure names it (the retry halves its batch)

    @property
    def metrics(self) -> dict[str, float]:
        return self.result.metrics

    def load(self, done: stages.StageResult, trainable: bool) -> PreTrainedModel:
        """A finished stage's model from disk, in the trial's precision."""
        return load_trained(self.spec.model, done.model_dir, self.setup.precision.torch_dtype, trainable=trainable)

    def train(self, stage: SFTStage | DPOStage, name: str, model: PreTrainedModel, dataset: Any, stage_dir: Path,
              step_offset: int, lora: Any | None) -> tuple[stages.StageResult, PreTrainedModel, list[Any]]:
        """Run one stage, named as the one running while it trains; returns its callbacks too."""
        callbacks = _callbacks(name, stage.eval_every, self.spec, self.tokenizer, self.data, self.report, step_offset,
                               self.validate)
        self.running = name
        done, model = stages.run_stage(stage, self.setup, model, self.tokenizer, dataset, stage_dir,
                                       peft_config=lora, callbacks=callbacks)
        self.running = "evaluation"
        return done, model, callbacks


def load_training_base(spec: SweepSpec) -> tuple[PreTrainedModel, Precision]:
    """The base model in the dtype its stages train in, and that precision, from one load.

    It is loaded in that dtype, never cast afterwards (see ``load_base``). The dtype does not depend on the
    model's size, only activation checkpointing does, so it is settled before the weights are read."""
    dtype = choose_precision(spec.resources.precision).torch_dtype
    base = load_base(spec.model, dtype)
    precision = choose_precision(spec.resources.precision, base.num_parameters())
    return base, choose_kernels(precision, spec.resources.kernels)


def _start(spec: SweepSpec, out_dir: Path, reporter: Reporter | None, validate: bool) -> tuple[TrialRun, PreTrainedModel]:
    """Record the config, prepare data, load tokenizer and base in the precision the hardware allows."""
    # Under a multi-worker trial (Ray Train + DeepSpeed) every rank trains; rank 0 alone evaluates, from the
    # saved weights, since ZeRO-3 leaves each rank only a shard of the live model.
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(spec.model_dump(mode="json"), indent=2))
    configure_hub_access(spec.model.name, needs_hub_data=any(s.hub for s in spec.data.sources.values()))
    set_seed(spec.seed)
    data = prepare_data(spec)
    tokenizer = load_tokenizer(spec.model)
    base, precision = load_training_base(spec)
    if spec.lora.enabled:
        check_target_modules(base, spec.lora)
    setup = stages.TrainingSetup(precision, spec.seed, spec.storage.keep_checkpoints,
                                 deepspeed_config(spec.resources.deepspeed))
    trial = TrialRun(spec, out_dir, reporter or _ignore, data, tokenizer, setup, validate and not distributed,
                   distributed, int(os.environ.get("RANK", "0")) == 0, PipelineResult(model_dir=None))
    trial.metrics.update(_length_checks(spec, tokenizer, data))
    return trial, base


def _evaluate_base(trial: TrialRun, base: PreTrainedModel) -> None:
    trial.metrics.update(_prefixed("base", evaluate_model(base, trial.tokenizer, trial.data.validation, trial.spec)))
    trial.report(dict(trial.metrics))


def sft_step(trial: TrialRun, model: PreTrainedModel, sft_dir: Path,
             sft_lock: Callable[[Path], AbstractContextManager[None]]) -> PreTrainedModel:
    """SFT from ``model`` in ``sft_dir``, or the finished stage there (its validation history replayed to the
    scheduler, which then sees the same rungs as for a trial that trained); then its validation metrics."""
    spec, metrics = trial.spec, trial.metrics
    with sft_lock(sft_dir):  # trials sharing an SFT recipe compute it once
        done = stages.completed_stage(sft_dir)
        if done is None:
            lora = peft_config(spec.lora) if spec.lora.enabled else None
            done, model, callbacks = trial.train(spec.sft, "sft", model, sft_dataset(trial.data.train), sft_dir, 0, lora)
            done.history = next((cb.history for cb in callbacks if isinstance(cb, ValidationCallback)), [])
            if trial.is_main:
                done.save(sft_dir)
            metrics["sft/cached"] = 0.0
        else:
            metrics["sft/cached"] = 1.0
            for past in done.history:
                trial.report(dict(past))
            model = trial.load(done, trainable=spec.dpo.enabled)
    trial.result.stages["sft"] = done
    trial.result.model_dir = done.model_dir
    if trial.distributed:
        model = trial.load(done, trainable=spec.dpo.enabled)
    if trial.is_main:
        metrics.update(_prefixed("sft", evaluate_model(model, trial.tokenizer, trial.data.validation, spec)))
        trial.report(dict(metrics))
    return model


def dpo_step(trial: TrialRun, model: PreTrainedModel) -> PreTrainedModel:
    """DPO from ``model`` (the SFT result, or the base) in ``out_dir/dpo``, or the finished stage there."""
    spec = trial.spec
    dpo_dir = trial.out_dir / "dpo"
    done = stages.completed_stage(dpo_dir)
    if done is None:
        sft = trial.result.stages.get("sft")
        # Without SFT, DPO trains a fresh adapter on the base; after SFT it continues the SFT adapter.
        lora = peft_config(spec.lora) if spec.lora.enabled and not spec.sft.enabled else None
        pairs = _on_policy(trial, model, dpo_dir) if spec.dpo.rejected == "on_policy" else trial.data.pairs
        done, model, _ = trial.train(spec.dpo, "dpo", model, preference_dataset(pairs), dpo_dir,
                                     sft.steps if sft else 0, lora)
        model = _unwrap_reference(model)
    else:
        model = trial.load(done, trainable=False)
    trial.result.stages["dpo"] = done
    trial.result.model_dir = done.model_dir
    if trial.distributed:
        model = trial.load(done, trainable=False)
    return model


def _on_policy(trial: TrialRun, model: PreTrainedModel, dpo_dir: Path) -> list[dict[str, Any]]:
    """The pairs with ``model``'s own wrong answers as rejections (:mod:`toolsweep.trainers.on_policy`), kept
    in ``dpo_dir/on_policy_pairs.jsonl``: a resumed DPO stage reads them back instead of answering again, so
    it trains on the pairs its checkpoints were trained on."""
    from toolsweep.data.loaders import write_jsonl
    from toolsweep.trainers.on_policy import on_policy_pairs, read_saved_pairs

    saved = dpo_dir / "on_policy_pairs.jsonl"
    if saved.is_file():
        found = read_saved_pairs(saved)
    else:
        found = on_policy_pairs(model, trial.tokenizer, trial.data.pairs, max_new_tokens=trial.spec.eval.max_new_tokens,
                                batch_size=trial.spec.eval.batch_size)
        write_jsonl(found.pairs, saved.with_suffix(".tmp")).replace(saved)  # whole, or not there to be read back
    trial.metrics.update(found.metrics())
    trial.report(found.metrics())
    return found.pairs


def final_evaluation(trial: TrialRun, model: PreTrainedModel, evaluate_test: bool) -> None:
    """``val/...`` on the whole validation split (its failures kept), When2Call's score, and the test sets."""
    spec, data, tokenizer = trial.spec, trial.data, trial.tokenizer
    failures = trial.out_dir / "val_failures.jsonl"
    trial.metrics.update(_prefixed("val", {**evaluate_model(model, tokenizer, data.validation, spec, failures),
                                           **when2call_metrics(model, tokenizer, data, spec)}))
    if evaluate_test:
        trial.metrics.update(evaluate_test_sets(model, tokenizer, data.test, data.test_slices, spec, trial.out_dir))


def run_pipeline(
    spec: SweepSpec,
    out_dir: Path,
    reporter: Reporter | None = None,
    *,
    sft_dir: Path | None = None,
    evaluate_base: bool = False,
    evaluate_test: bool = False,
    validate_during_training: bool = True,
    sft_lock: Callable[[Path], AbstractContextManager[None]] | None = None,
) -> PipelineResult:
    """Run the trial described by ``spec`` in ``out_dir``; raise TrialFailure with a reason on failure."""
    out_dir = Path(out_dir)
    trial, model = _start(spec, out_dir, reporter, validate_during_training)
    try:
        if evaluate_base and trial.is_main:
            _evaluate_base(trial, model)
        if spec.sft.enabled:
            model = sft_step(trial, model, Path(sft_dir or out_dir / "sft"), sft_lock or _no_lock)
        if spec.dpo.enabled:
            model = dpo_step(trial, model)
        if not trial.is_main:
            return trial.result
        final_evaluation(trial, model, evaluate_test)
    except UserError:
        raise
    except Exception as exc:
        resources = f"{spec.resources.cpus_per_trial:g} CPU, {spec.resources.gpus_per_trial:g} GPU per worker"
        failure = classify_failure(exc, resources, trial.running)
        (out_dir / "failure.json").write_text(json.dumps({"kind": failure.kind, "stage": trial.running,
                                                          "message": str(failure)}))
        raise failure from exc
    (out_dir / "result.json").write_text(json.dumps({"model_dir": trial.result.model_dir, "metrics": trial.metrics},
                                                    indent=2))
    trial.report(dict(trial.metrics))
    return trial.result


def _unwrap_reference(model: PreTrainedModel) -> PreTrainedModel:
    """After DPO on a PeftModel, drop TRL's frozen 'ref' adapter so evaluation uses the trained one."""
    peft_config_map = getattr(model, "peft_config", None)
    if peft_config_map and "ref" in peft_config_map:
        model.set_adapter("default")
        model.delete_adapter("ref")
    return model
