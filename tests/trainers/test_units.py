from __future__ import annotations

import math

import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from toolsweep.config.schema import LoraConfig
from toolsweep.errors import TrialFailure, UserError
from toolsweep.trainers.callbacks import MetricsCallback
from toolsweep.trainers.deepspeed import deepspeed_config
from toolsweep.trainers.failures import NonFiniteLossError, classify_failure
from toolsweep.trainers.hardware import Precision, choose_kernels, choose_precision
from toolsweep.trainers.lora import check_target_modules, linear_module_names, peft_config


@pytest.mark.parametrize("native_bf16", [False, True])
def test_cpu_gets_bf16_only_where_native_and_never_checkpointing(monkeypatch, native_bf16: bool) -> None:
    from toolsweep.trainers import hardware

    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: native_bf16)
    precision = choose_precision("auto", num_parameters=10**10)
    assert (precision.bf16, precision.fp16, precision.gradient_checkpointing, precision.use_cpu) == (native_bf16, False, False, True)
    assert choose_precision("fp32").bf16 is False
    with pytest.raises(UserError, match="fp16 needs a CUDA GPU"):
        choose_precision("fp16")


@pytest.mark.parametrize(("cuda", "installed", "expected"), [(False, True, False), (True, False, False), (True, True, True)])
def test_auto_kernels_use_liger_only_on_cuda_with_it_installed(monkeypatch, cuda: bool, installed: bool, expected: bool) -> None:
    from toolsweep.trainers import hardware

    monkeypatch.setattr(hardware, "liger_available", lambda: installed)
    precision = Precision(bf16=cuda, fp16=False, gradient_checkpointing=False, use_cpu=not cuda)
    chosen = choose_kernels(precision, "auto")
    assert chosen.liger_kernel is expected
    assert chosen.training_kwargs()["use_liger_kernel"] is expected
    assert choose_kernels(precision, "none").liger_kernel is False


def test_requested_liger_says_what_is_missing(monkeypatch) -> None:
    from toolsweep.trainers import hardware

    cpu = Precision(bf16=False, fp16=False, gradient_checkpointing=False, use_cpu=True)
    gpu = Precision(bf16=True, fp16=False, gradient_checkpointing=False, use_cpu=False)
    with pytest.raises(UserError, match="resources.kernels: liger needs a CUDA GPU"):
        choose_kernels(cpu, "liger")
    monkeypatch.setattr(hardware, "liger_available", lambda: False)
    with pytest.raises(UserError, match="pip install liger-kernel"):
        choose_kernels(gpu, "liger")
    monkeypatch.setattr(hardware, "liger_available", lambda: True)
    assert choose_kernels(gpu, "liger").liger_kernel is True


def test_missing_target_module_lists_the_existing_ones(tiny_model_dir) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert {"q_proj", "k_proj", "v_proj", "o_proj"} <= set(linear_module_names(model))
    with pytest.raises(UserError) as info:
        check_target_modules(model, LoraConfig(target_modules=["q_proj", "query_key_value"]))
    message = str(info.value)
    assert "['query_key_value'] not found" in message and "q_proj" in message and "lora.target_modules" in message
    check_target_modules(model, LoraConfig(target_modules=["q_proj", "v_proj"]))


def test_lora_alpha_defaults_to_twice_the_rank() -> None:
    assert peft_config(LoraConfig(r=8)).lora_alpha == 16
    assert peft_config(LoraConfig(r=8, alpha=4)).lora_alpha == 4
    assert (LoraConfig(r=8).effective_alpha, LoraConfig(r=8, alpha=4).effective_alpha) == (16, 4)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_loss_stops_the_stage_with_a_reason(bad: float) -> None:
    callback = MetricsCallback("sft", lambda metrics: None)
    state = TrainerState()
    state.global_step = 7
    with pytest.raises(NonFiniteLossError, match="sft: loss became .* at step 7") as info:
        callback.on_log(TrainingArguments("/tmp/unused", report_to=[]), state, TrainerControl(), logs={"loss": bad})
    assert info.value.kind == "nan"


def test_metrics_are_forwarded_with_the_stage_prefix() -> None:
    seen: list[dict] = []
    state = TrainerState()
    state.global_step = 3
    MetricsCallback("dpo", seen.append, step_offset=10).on_log(
        TrainingArguments("/tmp/unused", report_to=[]), state, TrainerControl(), logs={"loss": 0.5, "rewards/accuracies": 0.75}
    )
    assert seen[0]["dpo/loss"] == 0.5 and seen[0]["dpo/rewards/accuracies"] == 0.75
    assert seen[0]["training_iteration_step"] == 13


def test_failures_are_classified() -> None:
    oom = classify_failure(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), "1 CPU, 0.5 GPU per worker")
    assert oom.kind == "oom" and "0.5 GPU" in str(oom) and "batch_size" in str(oom)
    other = classify_failure(ValueError("boom"), "1 CPU")
    assert other.kind == "exception" and "ValueError: boom" in str(other)
    assert isinstance(other, TrialFailure)


def test_deepspeed_defaults_leave_sizes_to_the_trainer() -> None:
    assert deepspeed_config(None) is None
    for name, stage in (("zero2", 2), ("zero3", 3)):
        config = deepspeed_config(name)
        assert config["zero_optimization"]["stage"] == stage
        assert config["train_micro_batch_size_per_gpu"] == "auto"


def test_last_complete_checkpoint_orders_by_step_and_drops_cut_off_ones(tmp_path) -> None:
    from toolsweep.trainers.checkpoints import last_complete_checkpoint

    assert last_complete_checkpoint(tmp_path / "missing") is None
    for step, complete in ((2, True), (10, True), (12, False)):
        checkpoint = tmp_path / f"checkpoint-{step}"
        checkpoint.mkdir()
        if complete:
            (checkpoint / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-best").mkdir()  # not a numbered checkpoint: neither chosen nor removed
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")  # 10 > 2 although "10" < "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-10", "checkpoint-2", "checkpoint-best"]


def test_cpu_trials_give_freed_heap_memory_back_every_few_steps(monkeypatch) -> None:
    from toolsweep.trainers import callbacks, memory

    assert memory.release_freed_memory() is True  # glibc: the CI and every project machine
    calls: list[int] = []
    monkeypatch.setattr(callbacks, "release_freed_memory", lambda: calls.append(1) or True)
    callback = callbacks.MemoryTrimCallback(every=10)
    state = TrainerState()
    for step in range(1, 31):
        state.global_step = step
        callback.on_step_end(TrainingArguments(output_dir="unused", report_to=[]), state, TrainerControl())
    assert len(calls) == 3
