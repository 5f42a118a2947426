"""The memory estimate: parameter counts against transformers' own models, activations against the tensors
autograd really saves, the parts that depend on LoRA/DPO/ZeRO, and what ``validate`` prints and warns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from toolsweep.config import load_sweep
from toolsweep.config.schema import SweepSpec
from toolsweep.trainers.memory_check import memory_corners, memory_lines
from toolsweep.trainers.memory_estimate import GIB, Hardware, hardware_for, stage_memory, trial_memory
from toolsweep.trainers.model_architecture import (
    KNOWN_CONFIGS,
    ArchitectureUnknown,
    architecture_from_config,
    read_architecture,
)

ROOT = Path(__file__).parents[2]
TINY_CONFIG = json.loads((ROOT / "toolsweep/models/builtin/tiny-tool-lm/config.json").read_text())
SMALL = {"vocab_size": 1000, "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": False}
CPU_BF16 = Hardware(cuda=False, half=True, checkpointing=False, zero_stage=0, workers=1)


@pytest.mark.parametrize("config", [
    TINY_CONFIG,
    KNOWN_CONFIGS["Qwen/Qwen2.5-0.5B-Instruct"],
    KNOWN_CONFIGS["HuggingFaceTB/SmolLM2-135M-Instruct"],
    {**SMALL, "model_type": "qwen3", "head_dim": 24},
    {**SMALL, "model_type": "llama", "attention_bias": True, "mlp_bias": True},
    {**SMALL, "model_type": "mistral"},
], ids=["tiny-llama", "qwen2.5-0.5b", "smollm2-135m", "qwen3-qk-norm", "llama-biases", "mistral-untied"])
def test_parameter_count_matches_transformers(config: dict) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config))
    assert architecture_from_config(config, "test").parameters() == sum(p.numel() for p in model.parameters())


def test_lora_all_linear_counts_what_peft_adds(tiny_model_dir: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    arch = read_architecture(str(tiny_model_dir))
    for targets in ("all-linear", ["q_proj", "v_proj"]):
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                               LoraConfig(r=4, target_modules=targets, task_type="CAUSAL_LM"))
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        spec = SweepSpec.model_validate({"model": {"name": str(tiny_model_dir)}, "lora": {"r": 4, "target_modules": targets}})
        memory = stage_memory(arch, spec, "sft", CPU_BF16)
        assert memory.parts["adapter"] == 4 * trainable  # fp32 adapters


@pytest.mark.parametrize(("dtype", "lora"), [("bfloat16", True), ("float32", False)])
def test_activation_estimate_is_within_15_percent_of_what_autograd_saves(dtype: str, lora: bool) -> None:
    """The per-token terms against the tensors a real forward keeps for backward (the project's code path:
    TRL's fused head, autocast in bf16, PEFT LoRA), on a model whose widths all differ."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    config = {**SMALL, "model_type": "llama", "hidden_size": 192, "intermediate_size": 640, "head_dim": 40,
              "vocab_size": 2050, "tie_word_embeddings": True}
    torch_dtype = getattr(torch, dtype)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config), dtype=torch_dtype)
    add_fused_lm_head(model)
    if lora:
        model = get_peft_model(model, LoraConfig(r=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    batch, length = 2, 128
    ids = torch.randint(3, 2000, (batch, length))
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[0, -20:] = 0  # padding, so the attention mask exists as in a real batch
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with (torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor),
          torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16")):
        model(input_ids=ids, attention_mask=mask, labels=ids, fused_lm_head=True)
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    measured = sum(size for ptr, size in saved.items() if ptr not in parameters)
    arch = architecture_from_config(config, "test")
    spec = SweepSpec.model_validate({"lora": {"enabled": lora, "r": 8},
                                     "sft": {"batch_size": batch, "max_length": length}})
    hw = Hardware(cuda=True, half=dtype == "bfloat16", checkpointing=False, zero_stage=0, workers=1)
    estimated = stage_memory(arch, spec, "sft", hw).parts["activations"]
    assert 0.85 <= measured / estimated <= 1.15, (measured, estimated)


def test_parts_follow_lora_dpo_zero_and_checkpointing() -> None:
    arch = architecture_from_config(KNOWN_CONFIGS["Qwen/Qwen2.5-0.5B-Instruct"], "test")
    params = arch.parameters()
    lora_dpo = SweepSpec.model_validate({"dpo": {"batch_size": 4, "max_length": 512}})
    full_dpo = lora_dpo.model_copy(update={"lora": lora_dpo.lora.model_copy(update={"enabled": False})})
    gpu = Hardware(cuda=True, half=True, checkpointing=False, zero_stage=0, workers=1)
    lora = stage_memory(arch, lora_dpo, "dpo", gpu)
    full = stage_memory(arch, full_dpo, "dpo", gpu)
    assert lora.parts["reference"] < 0.05 * full.parts["reference"]  # only the SFT adapter is copied, not the model
    assert full.parts["reference"] == full.parts["weights"] == 2 * params  # a full bf16 copy without LoRA
    assert full.parts["optimizer"] == 4 * params  # two bf16 AdamW states: no fp32 master without DeepSpeed
    zero3 = stage_memory(arch, full_dpo, "dpo", Hardware(cuda=True, half=True, checkpointing=False, zero_stage=3, workers=4))
    assert zero3.parts["weights"] == full.parts["weights"] / 4 and zero3.parts["optimizer"] == 12 * params / 4
    zero2 = stage_memory(arch, full_dpo, "dpo", Hardware(cuda=True, half=True, checkpointing=False, zero_stage=2, workers=4))
    assert zero2.parts["weights"] == full.parts["weights"] and zero2.parts["gradients"] == full.parts["gradients"] / 4
    sft = stage_memory(arch, lora_dpo.model_copy(update={"sft": lora_dpo.sft.model_copy(update={"batch_size": 8, "max_length": 512})}),
                       "sft", gpu)
    assert sft.parts["activations"] == pytest.approx(lora.parts["activations"])  # DPO's 4 pairs are 8 rows
    checkpointed = stage_memory(arch, lora_dpo, "dpo", Hardware(cuda=True, half=True, checkpointing=True, zero_stage=0, workers=1))
    assert checkpointed.parts["activations"] < lora.parts["activations"] / 5


def test_the_runtime_is_the_cuda_context_on_a_gpu_and_pytorchs_cpu_state_on_a_cpu() -> None:
    from toolsweep.trainers.memory_estimate import CPU_RUNTIME_BYTES, CUDA_CONTEXT_BYTES

    arch = architecture_from_config(KNOWN_CONFIGS["Qwen/Qwen2.5-0.5B-Instruct"], "test")
    spec = SweepSpec()
    cpu = stage_memory(arch, spec, "sft", Hardware(cuda=False, half=False, checkpointing=False, zero_stage=0, workers=1))
    gpu = stage_memory(arch, spec, "sft", Hardware(cuda=True, half=False, checkpointing=False, zero_stage=0, workers=1))
    assert cpu.parts["CPU runtime"] == CPU_RUNTIME_BYTES and "CUDA context" not in cpu.parts
    assert gpu.parts["CUDA context"] == CUDA_CONTEXT_BYTES and "CPU runtime" not in gpu.parts


def test_hardware_follows_the_project_rules() -> None:
    gpu = SweepSpec.model_validate({"resources": {"gpus_per_trial": 0.5}})
    assert hardware_for(gpu, 10**9).checkpointing and not hardware_for(gpu, 10**8).checkpointing
    cpu = SweepSpec.model_validate({"resources": {"precision": "auto"}})
    assert hardware_for(cpu, 10**9, cpu_bf16=False).half is False and hardware_for(cpu, 10**9, cpu_bf16=True).half
    assert not hardware_for(cpu, 10**10, cpu_bf16=True).checkpointing  # the project checkpoints on GPUs only
    zero3 = SweepSpec.model_validate({"resources": {"gpus_per_trial": 1, "workers": 2, "deepspeed": "zero3"}})
    assert hardware_for(zero3, 10**8).zero_stage == 3


def test_unknown_models_are_said_to_need_their_config() -> None:
    with pytest.raises(ArchitectureUnknown, match="needs the model's config.json"):
        read_architecture("nobody-here/no-such-model-1234")
    with pytest.raises(ArchitectureUnknown, match="mixture-of-experts"):
        architecture_from_config({**SMALL, "model_type": "mixtral", "num_local_experts": 8}, "test")
    qwen = read_architecture("Qwen/Qwen2.5-0.5B-Instruct")  # from the hub cache if it is there, else the table
    assert qwen.parameters() == 494_032_768 and qwen.source.endswith(("config.json", "(not cached here)"))


def _sweep(tmp_path: Path, model_dir: Path, **sections: dict) -> Path:
    spec = {"name": "mem", "model": {"name": str(model_dir)},
            "lora": {"r": {"choice": [4, 64]}},
            "sft": {"batch_size": {"choice": [2, 32]}, "max_length": {"choice": [128, 2048]}},
            "dpo": {"batch_size": 2, "max_length": 128},
            "search": {"algorithm": "random"}, "storage": {"path": str(tmp_path)}}
    for section, values in sections.items():
        spec[section] = {**spec.get(section, {}), **values}
    path = tmp_path / "mem.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_corners_take_each_fields_largest_and_smallest_candidate(tiny_model_dir: Path, tmp_path: Path) -> None:
    sweep = load_sweep(_sweep(tmp_path, tiny_model_dir))
    worst, best = memory_corners(sweep)
    assert worst.values == {"lora.r": 64, "sft.batch_size": 32, "sft.max_length": 2048}
    assert best.values == {"lora.r": 4, "sft.batch_size": 2, "sft.max_length": 128}
    assert worst.memory.total > 20 * best.memory.total
    lines = "\n".join(memory_lines(sweep))
    assert "worst corner  lora.r=64, sft.batch_size=32, sft.max_length=2048" in lines and "WARNING" not in lines


def test_validate_warns_when_a_corner_cannot_fit_its_gpu_share(tiny_model_dir: Path, tmp_path: Path) -> None:
    sweep = load_sweep(_sweep(tmp_path, tiny_model_dir, resources={"gpus_per_trial": 0.25, "gpu_memory_gb": 4.0}))
    worst, best = memory_corners(sweep)
    assert worst.memory.total > GIB > best.memory.total  # the share is a quarter of 4 GiB
    lines = "\n".join(memory_lines(sweep))
    warning = next(line for line in lines.splitlines() if "WARNING" in line)
    assert "1.0 GiB (resources.gpus_per_trial 0.25 x resources.gpu_memory_gb 4)" in warning
    for field in ("sft.batch_size at 2", "sft.max_length at 128", "gradient_accumulation_steps", "resources.gpus_per_trial"):
        assert field in warning
    assert "even the best corner" not in lines


def test_shipped_gpu_config_gets_an_estimate_per_corner_and_a_warning() -> None:
    lines = "\n".join(memory_lines(load_sweep(ROOT / "configs/cluster/gpu_qwen.yaml")))
    assert "Qwen/Qwen2.5-0.5B-Instruct: 494.0M parameters" in lines
    assert "worst corner  lora.r=32" in lines and "best corner   lora.r=8" in lines
    assert "WARNING    memory: the worst corner" in lines


def test_trial_memory_is_none_without_stages() -> None:
    arch = architecture_from_config(TINY_CONFIG, "test")
    spec = SweepSpec.model_validate({"sft": {"enabled": False}, "dpo": {"enabled": False},
                                     "search": {"metric": "val/exact_match"}})
    assert trial_memory(arch, spec, CPU_BF16) is None
