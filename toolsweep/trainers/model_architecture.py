"""A decoder model's shapes from its ``config.json`` alone: parameter count and every Linear of a layer.

Why: the memory estimate runs inside ``toolsweep validate``, which must not import torch or transformers
(multi-second imports) nor download anything. ``config.json`` is read as JSON from a local or built-in model
directory, or from the Hugging Face cache for a hub id. Parameters are counted from the Llama/Qwen2/Qwen3/
Mistral layout (embeddings, per layer the attention and gated-MLP projections with the family's biases and
norms, the final norm, and an LM head unless tied); the unit tests check the count against transformers'
own model built on the meta device. Where a hub model's config is not cached, ``KNOWN_CONFIGS`` holds the
published ``config.json`` fields of the models this project's configs name; anything else is reported as
unknown rather than guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["KNOWN_CONFIGS", "Architecture", "ArchitectureUnknown", "architecture_from_config", "read_architecture"]

_QWEN25_05B = {"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
               "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
               "tie_word_embeddings": True}
_SMOLLM2_135M = {"model_type": "llama", "vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536,
                 "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
                 "tie_word_embeddings": True, "attention_bias": False, "mlp_bias": False}
KNOWN_CONFIGS: dict[str, dict[str, Any]] = {
    "Qwen/Qwen2.5-0.5B-Instruct": _QWEN25_05B,
    "Qwen/Qwen2.5-0.5B": _QWEN25_05B,
    "HuggingFaceTB/SmolLM2-135M-Instruct": _SMOLLM2_135M,
    "builtin:smollm2-135m-instruct": _SMOLLM2_135M,  # before its first fetch, the cache holds no config.json
}
"""Shape fields of published ``config.json`` files, used only when the file itself is not available offline."""

_FAMILIES = ("llama", "mistral", "qwen2", "qwen3")
_MOE_FIELDS = ("num_experts", "num_local_experts", "n_routed_experts", "moe_intermediate_size")


class ArchitectureUnknown(ValueError):
    """The model's shapes cannot be known without fetching or guessing; the message says what is needed."""


@dataclass(frozen=True)
class Architecture:
    """The shapes that decide memory, plus where they were read from (``source``) and any assumption made."""

    model_type: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    tied_embeddings: bool
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    qk_norm: bool
    source: str
    note: str = ""

    def linears(self) -> dict[str, tuple[int, int]]:
        """(in_features, out_features) of each Linear in one decoder layer, by its module name."""
        h, q, kv, i = self.hidden_size, self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim, self.intermediate_size
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    def parameters(self) -> int:
        """Every parameter of the model, tied embeddings counted once."""
        linears = self.linears()
        layer = sum(fan_in * fan_out for fan_in, fan_out in linears.values())
        if self.qkv_bias:
            layer += sum(linears[name][1] for name in ("q_proj", "k_proj", "v_proj"))
        if self.o_bias:
            layer += self.hidden_size
        if self.mlp_bias:
            layer += 2 * self.intermediate_size + self.hidden_size
        layer += 2 * self.hidden_size + (2 * self.head_dim if self.qk_norm else 0)  # RMSNorms
        embeddings = self.vocab_size * self.hidden_size
        head = 0 if self.tied_embeddings else embeddings
        return embeddings + self.num_layers * layer + self.hidden_size + head


def _text_config(config: dict[str, Any]) -> dict[str, Any]:
    nested = config.get("text_config")
    return nested if isinstance(nested, dict) and "hidden_size" in nested else config


def architecture_from_config(config: dict[str, Any], source: str) -> Architecture:
    """The shapes in a ``config.json`` mapping; ArchitectureUnknown for layouts this count does not model."""
    config = _text_config(config)
    model_type = str(config.get("model_type", ""))
    if any(config.get(name) for name in _MOE_FIELDS):
        raise ArchitectureUnknown(f"{source}: mixture-of-experts models ({model_type}) are not modelled; "
                                  "estimate their memory by hand")
    required = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
    missing = [name for name in required if not isinstance(config.get(name), int)]
    if missing:
        raise ArchitectureUnknown(f"{source}: no {', '.join(missing)} in config.json ({model_type or 'no model_type'}); "
                                  "only Llama/Qwen2/Qwen3/Mistral-style decoders are modelled")
    heads = config["num_attention_heads"]
    bias = bool(config.get("attention_bias", False))
    qwen2 = model_type == "qwen2"
    return Architecture(
        model_type=model_type,
        vocab_size=config["vocab_size"],
        hidden_size=config["hidden_size"],
        intermediate_size=config["intermediate_size"],
        num_layers=config["num_hidden_layers"],
        num_heads=heads,
        num_kv_heads=config.get("num_key_value_heads") or heads,
        head_dim=config.get("head_dim") or config["hidden_size"] // heads,
        tied_embeddings=bool(config.get("tie_word_embeddings", True)),
        qkv_bias=qwen2 or bias,  # Qwen2 always has query/key/value biases
        o_bias=bias and not qwen2,
        mlp_bias=bool(config.get("mlp_bias", False)),
        qk_norm=model_type == "qwen3",
        source=source,
        note="" if model_type in _FAMILIES else f"model_type {model_type!r} counted as a Llama-style decoder",
    )


def _config_file(name: str, revision: str | None) -> Path | None:
    """Where ``config.json`` is on this machine, fetching nothing: a model directory, or the hub cache."""
    from toolsweep.models.registry import check_model_name, looks_like_local_path

    location = Path(check_model_name(name))
    if (location / "config.json").is_file():
        return location / "config.json"
    if name.startswith("builtin:") or looks_like_local_path(name) or location.is_dir():
        return None
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(name, "config.json", revision=revision)
    return Path(cached) if isinstance(cached, str) else None


def read_architecture(name: str, revision: str | None = None) -> Architecture:
    """The architecture of model ``name`` (as ``model.name`` spells it) without downloading anything."""
    path = _config_file(name, revision)
    if path is not None:
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ArchitectureUnknown(f"{path}: unreadable config.json ({exc})") from None
        return architecture_from_config(config, str(path))
    if name in KNOWN_CONFIGS:
        return architecture_from_config(KNOWN_CONFIGS[name], f"published config.json of {name} (not cached here)")
    raise ArchitectureUnknown(f"unknown: needs the model's config.json; {name!r} has none on this machine "
                              f"(fetch it once: `huggingface-cli download {name} config.json`)")
