"""SFT and DPO stages through TRL: one runner for both, taking the typed stage config, and one way to resume.

Each stage writes into its own directory: Trainer checkpoints (``checkpoint-N/``, at most
``keep_checkpoints`` of them) while it runs, then the final weights in ``final/`` plus ``stage.json`` with
its metrics. A stage whose ``stage.json`` exists is done and is not run again; a stage with checkpoints
resumes from the last one, continuing the step count. That is what lets a crashed trial retry cheaply.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback

from toolsweep.config.schema import DPOStage, SFTStage
from toolsweep.trainers import checkpoints
from toolsweep.trainers.checkpoints import STAGE_FILE, last_complete_checkpoint
from toolsweep.trainers.hardware import Precision

__all__ = ["StageResult", "TrainingSetup", "completed_stage", "run_stage", "training_arguments", "training_losses"]

# Of the Trainer's log lines, what a learning curve needs (DPO's reward margin shows whether the policy moves).
_CURVE_KEYS = ("step", "loss", "learning_rate", "grad_norm", "rewards/margins")


@dataclass
class StageResult:
    """What a finished stage leaves behind: where its weights are and how training went."""

    name: str
    model_dir: str
    steps: int
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    resumed_from_step: int = 0
    # Validation reports made while the stage trained; replayed to the scheduler when a cached stage is reused.
    history: list[dict[str, float]] = field(default_factory=list)
    # The Trainer's log lines (every ``logging_steps``): what the learning-curve plot draws between reports.
    losses: list[dict[str, float]] = field(default_factory=list)

    def save(self, stage_dir: Path) -> None:
        (stage_dir / STAGE_FILE).write_text(json.dumps(asdict(self), indent=2))


def completed_stage(stage_dir: Path) -> StageResult | None:
    """The result of a stage that already finished in ``stage_dir``, or None."""
    path = stage_dir / STAGE_FILE
    if not path.is_file():
        return None
    return StageResult(**json.loads(path.read_text()))


def _loss_lines(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    return [{k: float(line[k]) for k in _CURVE_KEYS if isinstance(line.get(k), (int, float))}
            for line in log_history if isinstance(line.get("loss"), (int, float)) and "step" in line]


def training_losses(stage_dir: Path) -> list[dict[str, float]]:
    """The loss every ``logging_steps`` of the stage in ``stage_dir``: from ``stage.json`` when it finished,
    else (a trial stopped by the scheduler, or a stage from before losses were recorded) from the newest
    checkpoint's ``trainer_state.json``, which holds the log up to that checkpoint. [] when neither exists."""
    done = completed_stage(stage_dir)
    if done is not None and done.losses:
        return done.losses
    for checkpoint in checkpoints.numbered_checkpoints(stage_dir):
        state = checkpoint / checkpoints.TRAINER_STATE_FILE
        try:
            return _loss_lines(json.loads(state.read_text()).get("log_history", []))
        except (OSError, ValueError):  # cut off mid-write: the one before it is whole
            continue
    return []


@dataclass(frozen=True)
class TrainingSetup:
    """What both stages of one trial train with, beside their own stage config: chosen once per trial."""

    precision: Precision
    seed: int = 0
    keep_checkpoints: int = 2
    deepspeed: dict[str, Any] | str | None = None


def training_arguments(stage: SFTStage | DPOStage, stage_dir: Path, setup: TrainingSetup) -> dict[str, Any]:
    """The SFTConfig or DPOConfig fields for ``stage``: those both stages share, then the stage's own.

    SFT trains on the assistant's tokens only. Its packing is padding-free: TRL passes each packed example's
    ``position_ids`` without an attention mask, and transformers turns restarting positions into a
    block-diagonal mask, so examples do not attend to each other with SDPA or eager attention too, not only
    FlashAttention (tested). DPO has no padding-free option: TRL 1.16's DPOTrainer turns it off."""
    common = {
        "output_dir": str(stage_dir),
        "max_steps": stage.max_steps,
        "per_device_train_batch_size": stage.batch_size,
        "gradient_accumulation_steps": stage.gradient_accumulation_steps,
        "learning_rate": stage.learning_rate,
        "lr_scheduler_type": stage.lr_scheduler,
        "warmup_steps": int(stage.warmup_ratio * stage.max_steps),
        "weight_decay": stage.weight_decay,
        "max_length": stage.max_length,
        "logging_steps": max(1, min(10, stage.max_steps // 20)),  # ~20 points: the learning curve is a curve
        "save_strategy": "steps",
        "save_steps": stage.eval_every,
        "save_total_limit": setup.keep_checkpoints,
        "seed": setup.seed,
        "data_seed": setup.seed,
        "report_to": [],  # the Trainer reports nowhere itself: MetricsCallback hands its logs to our reporter
        "include_num_input_tokens_seen": "non_padding",
        "disable_tqdm": True,
        "deepspeed": setup.deepspeed,
        "dataloader_num_workers": 0,
        **setup.precision.training_kwargs(),
    }
    if isinstance(stage, SFTStage):
        return {**common, "assistant_only_loss": True, "packing": stage.packing, "padding_free": stage.packing,
                "train_sampling_strategy": "group_by_length" if stage.group_by_length else "random"}
    dpo = {**common, "beta": stage.beta, "loss_type": [stage.loss_type]}
    if stage.sft_weight:  # TRL combines the losses: sum of weight x loss
        dpo.update(loss_type=[stage.loss_type, "sft"], loss_weights=[1.0, stage.sft_weight])
    return dpo


def _train(trainer: Any, name: str, stage_dir: Path, tokenizer: PreTrainedTokenizerBase) -> tuple[StageResult, Any]:
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # raw log dicts; MetricsCallback reports them to our reporter
    last = last_complete_checkpoint(stage_dir)
    resumed = int(Path(last).name.split("-")[-1]) if last else 0
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=last)
    final = stage_dir / "final"
    trainer.save_model(str(final))  # safetensors: the adapter, or the full model without LoRA
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(final))
    trainer.accelerator.wait_for_everyone()  # other ranks load `final` next: it must be complete
    metrics = {k: float(v) for k, v in output.metrics.items() if isinstance(v, (int, float))}
    # Record how the stage really ran, so a multi-worker DeepSpeed trial can be checked after the fact.
    metrics["world_size"] = float(trainer.args.world_size)
    # The micro-batch it ran with: an out-of-memory retry trains a stage at a smaller one, same effective batch.
    metrics["micro_batch_size"] = float(trainer.args.per_device_train_batch_size)
    metrics["gradient_accumulation_steps"] = float(trainer.args.gradient_accumulation_steps)
    plugin = trainer.accelerator.state.deepspeed_plugin if trainer.is_deepspeed_enabled else None
    metrics["zero_stage"] = float(plugin.zero_stage) if plugin is not None else 0.0
    result = StageResult(name, str(final), trainer.state.global_step, time.perf_counter() - started, metrics, resumed,
                         losses=_loss_lines(trainer.state.log_history))
    if trainer.is_world_process_zero():
        result.save(stage_dir)
    return result, trainer.model


def run_stage(
    stage: SFTStage | DPOStage,
    setup: TrainingSetup,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    dataset: Dataset,
    stage_dir: Path,
    *,
    peft_config: Any | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> tuple[StageResult, PreTrainedModel]:
    """Train one stage (``spec.sft`` or ``spec.dpo``) in ``stage_dir``, resuming from its last checkpoint.

    SFT: supervised fine-tuning on conversations with tools, loss on the assistant's tokens only. DPO: on
    preference pairs; ``model`` is the SFT result, a PeftModel carrying the SFT adapter (TRL keeps a frozen
    copy of it as the reference) or a full model (TRL copies it as the reference). ``peft_config`` starts a
    fresh adapter (None: train ``model`` as it is)."""
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    arguments = training_arguments(stage, stage_dir, setup)
    common = {"model": model, "train_dataset": dataset, "processing_class": tokenizer, "peft_config": peft_config,
              "callbacks": list(callbacks)}
    if isinstance(stage, SFTStage):
        return _train(SFTTrainer(args=SFTConfig(**arguments), **common), "sft", stage_dir, tokenizer)
    return _train(DPOTrainer(args=DPOConfig(**arguments), ref_model=None, **common), "dpo", stage_dir, tokenizer)
