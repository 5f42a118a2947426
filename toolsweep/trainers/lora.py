"""LoRA through PEFT: our typed LoRA section → ``peft.LoraConfig``, checked against the model first.

PEFT's own error for a missing target module comes after the model is loaded and wrapped, and it does not
say which names would have worked. We check before training and list the linear layers the model has.
"""

from __future__ import annotations

from peft import LoraConfig as PeftLoraConfig
from torch import nn

from toolsweep.config.schema import LoraConfig
from toolsweep.errors import UserError

__all__ = ["check_target_modules", "linear_module_names", "peft_config"]


def linear_module_names(model: nn.Module) -> list[str]:
    """Short names (last path component) of the model's linear layers, minus the output head."""
    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, nn.Linear)}
    return sorted(names - {"lm_head"})


def check_target_modules(model: nn.Module, lora: LoraConfig) -> None:
    """Raise a UserError naming the missing modules and listing those that exist."""
    if lora.target_modules == "all-linear":
        return
    available = linear_module_names(model)
    missing = [name for name in lora.target_modules if name not in available]
    if missing:
        raise UserError(
            f"lora.target_modules: {missing} not found in the model; its linear modules are: "
            f"{', '.join(available)} (or use 'all-linear')"
        )


def peft_config(lora: LoraConfig) -> PeftLoraConfig:
    return PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.effective_alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )
