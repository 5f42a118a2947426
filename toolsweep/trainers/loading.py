"""Loading models and tokenizers the ordinary way, with the project's safety defaults.

Weights load and save as safetensors only, ``trust_remote_code`` stays off unless the sweep file sets it,
and the hub is contacted only when the model is a hub id (everything else sets HF_HUB_OFFLINE, which also
stops TRL's telemetry call at trainer creation).
"""

from __future__ import annotations

import os
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from toolsweep.config.schema import ModelConfig
from toolsweep.errors import UserError
from toolsweep.models.chat_templates import chat_template_text
from toolsweep.models.registry import BUILTIN_PREFIX, check_model_name, resolve_model

__all__ = ["configure_hub_access", "load_base", "load_tokenizer"]


def configure_hub_access(model: ModelConfig, needs_hub_data: bool = False) -> None:
    """Telemetry off always; the hub off unless the model or data comes from it."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    local = model.name.startswith(BUILTIN_PREFIX) or Path(check_model_name(model.name)).is_dir()
    if local and not needs_hub_data:
        os.environ["HF_HUB_OFFLINE"] = "1"


def load_tokenizer(model: ModelConfig) -> PreTrainedTokenizerBase:
    """The model's tokenizer, with ``model.chat_template`` in place of its own template when given."""
    location = resolve_model(model.name)
    tokenizer = AutoTokenizer.from_pretrained(location, revision=model.revision, trust_remote_code=model.trust_remote_code)
    if model.chat_template is not None:
        tokenizer.chat_template = chat_template_text(model.chat_template)
    if tokenizer.chat_template is None:
        raise UserError(f"model.name: {model.name!r} has no chat template; use an instruct/chat model or set "
                        "model.chat_template (e.g. 'hermes')")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(model: ModelConfig, dtype: object) -> PreTrainedModel:
    location = resolve_model(model.name)
    try:
        return AutoModelForCausalLM.from_pretrained(
            location,
            revision=model.revision,
            trust_remote_code=model.trust_remote_code,
            dtype=dtype,
            use_safetensors=True,
        )
    except OSError as exc:
        raise UserError(f"model.name: cannot load {model.name!r} ({location}): {exc}") from None
