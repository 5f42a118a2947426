"""Loading models and tokenizers: the one place that decides how.

Why one place: training, the variants table, ``toolsweep eval`` and ``toolsweep export`` each loaded models
their own way, and they had drifted (export's reload ignored ``model.revision`` and the pad-token fallback;
``HF_HUB_OFFLINE`` was set in two places and undone in a third). Everything they must agree on is here:

- **revision** applies to a hub id only; a local directory (a finished stage, an export) has none;
- **dtype** is the caller's (``"auto"``: as saved); the trial casts to its precision after looking at the size;
- **pad token**: a tokenizer without one pads with EOS, in training and in evaluation alike;
- **adapter or full weights**: a directory with ``adapter_config.json`` is a LoRA adapter, applied to its
  base; any other directory holds the full model;
- **trust_remote_code** stays off unless the sweep file or ``--trust-remote-code`` turns it on, and weights
  load as safetensors only (no pickle);
- **offline mode**: the hub is contacted only when something to load (or the data) comes from it;
  :func:`configure_hub_access` is the only code that sets ``HF_HUB_OFFLINE``, which also stops TRL's
  telemetry call at trainer creation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolsweep.errors import UserError
from toolsweep.models.chat_templates import chat_template_text
from toolsweep.models.registry import BUILTIN_PREFIX, resolve_model

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from toolsweep.config.schema import ModelConfig

__all__ = [
    "ADAPTER_CONFIG", "adapter_base", "configure_hub_access", "hub_access_restored", "is_adapter", "load_base",
    "load_for_inference", "load_tokenizer", "load_trained",
]

ADAPTER_CONFIG = "adapter_config.json"


def is_adapter(directory: str | os.PathLike[str]) -> bool:
    """True when ``directory`` holds a LoRA adapter (PEFT's ``adapter_config.json``) rather than full weights."""
    return (Path(directory) / ADAPTER_CONFIG).is_file()


def adapter_base(directory: str | os.PathLike[str]) -> str:
    """The base model an adapter directory was trained on, as its ``adapter_config.json`` records it."""
    return str(json.loads((Path(directory) / ADAPTER_CONFIG).read_text())["base_model_name_or_path"])


def _is_local(name: str) -> bool:
    return name.startswith(BUILTIN_PREFIX) or Path(name).expanduser().is_dir()


def _hub_revision(location: str, revision: str | None) -> str | None:
    """``revision`` for a hub id; None for a local directory, which has no revisions."""
    return None if _is_local(location) else revision


def configure_hub_access(*names: str, needs_hub_data: bool = False) -> None:
    """Telemetry off always; ``HF_HUB_OFFLINE=1`` when every model in ``names`` is local (a directory or a
    built-in) and no data comes from the hub, so that nothing waits on a network a cluster node may not have."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    if names and not needs_hub_data and all(_is_local(name) for name in names):
        os.environ["HF_HUB_OFFLINE"] = "1"


@contextmanager
def hub_access_restored() -> Iterator[None]:
    """``HF_HUB_OFFLINE`` as it was before the block, for a command that loads local models and must reach the
    hub afterwards in the same process (``toolsweep export --push-to-hub``)."""
    before = os.environ.get("HF_HUB_OFFLINE")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = before


def _tokenizer(location: str, revision: str | None, trust_remote_code: bool, template: str | None,
               what: str) -> PreTrainedTokenizerBase:
    """A tokenizer that can render tools (``template``, Jinja source, replaces its own) and pad."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(location, revision=revision, trust_remote_code=trust_remote_code)
    if template is not None:
        tokenizer.chat_template = template
    if tokenizer.chat_template is None:
        raise UserError(f"{what} has no chat template; use an instruct/chat model or give one (model.chat_template "
                        "in a sweep file, --chat-template for toolsweep eval), e.g. 'hermes'")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _weights(location: str, revision: str | None, trust_remote_code: bool, dtype: Any, what: str) -> PreTrainedModel:
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(
            location, revision=revision, trust_remote_code=trust_remote_code, dtype=dtype, use_safetensors=True,
        )
    except OSError as exc:
        raise UserError(f"{what}: {exc}") from None


def _template(model: ModelConfig) -> str | None:
    return None if model.chat_template is None else chat_template_text(model.chat_template)


def load_tokenizer(model: ModelConfig, saved_in: str | os.PathLike[str] | None = None) -> PreTrainedTokenizerBase:
    """The tokenizer of ``model``, with ``model.chat_template`` in place of its own template when given.

    ``saved_in``: a finished stage's directory, whose saved tokenizer is used when it has one (a stage saves
    the tokenizer it trained with beside its weights)."""
    if saved_in is not None and (Path(saved_in) / "tokenizer_config.json").is_file():
        return _tokenizer(str(saved_in), None, model.trust_remote_code, _template(model), str(saved_in))
    return _tokenizer(resolve_model(model.name), model.revision, model.trust_remote_code, _template(model),
                      f"model.name: {model.name!r}")


def load_base(model: ModelConfig, dtype: Any = "auto") -> PreTrainedModel:
    """The base model ``model`` names, at ``model.revision``, in ``dtype``.

    Load in the dtype a stage trains in instead of casting a loaded model with ``.to()``: ``from_pretrained``
    keeps the rotary ``inv_freq`` buffer in fp32, while ``.to(torch.bfloat16)`` rounds it too, so a model cast
    in memory and the same weights loaded from a stage directory would see slightly different positions (a
    DPO stage continuing a cached SFT stage drifted from one continuing it in memory, in bf16 only)."""
    location = resolve_model(model.name)
    return _weights(location, model.revision, model.trust_remote_code, dtype,
                    f"model.name: cannot load {model.name!r} ({location})")


def load_trained(model: ModelConfig, model_dir: str | os.PathLike[str], dtype: Any = "auto", *,
                 trainable: bool = False) -> PreTrainedModel:
    """Weights a stage trained from ``model``: its base plus the adapter in ``model_dir``, or the full model
    saved there. ``trainable`` keeps the adapter's parameters trainable (DPO continues an SFT adapter)."""
    if not is_adapter(model_dir):
        return _weights(str(model_dir), None, model.trust_remote_code, dtype, f"cannot load the model in {model_dir}")
    from peft import PeftModel

    return PeftModel.from_pretrained(load_base(model, dtype), str(model_dir), is_trainable=trainable)


def load_for_inference(location: str, *, revision: str | None = None, trust_remote_code: bool = False,
                       chat_template: str | None = None, dtype: Any = "auto") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A model to evaluate, in eval mode, and its tokenizer: full weights (a directory or hub id), or an adapter
    directory applied to the base its ``adapter_config.json`` records.

    ``revision`` is the hub revision of the hub id that is loaded (the model's, or an adapter's base);
    ``chat_template`` (Jinja source) replaces the tokenizer's own. An adapter directory's own tokenizer is used
    when it saved one, else its base's."""
    if not is_adapter(location):
        configure_hub_access(location)
        revision = _hub_revision(location, revision)
        tokenizer = _tokenizer(location, revision, trust_remote_code, chat_template, location)
        return _weights(location, revision, trust_remote_code, dtype, f"cannot load {location}").eval(), tokenizer
    from peft import PeftModel

    base = adapter_base(location)
    configure_hub_access(location, base)
    revision = _hub_revision(base, revision)
    own = (Path(location) / "tokenizer_config.json").is_file()
    tokenizer = _tokenizer(location if own else base, None if own else revision, trust_remote_code, chat_template,
                           location)
    weights = _weights(base, revision, trust_remote_code, dtype, f"cannot load {base}, the base of adapter {location}")
    return PeftModel.from_pretrained(weights, location).eval(), tokenizer
