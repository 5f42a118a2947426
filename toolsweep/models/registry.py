"""Model names → loadable locations: the built-in default, local directories and hub ids.

``builtin:tiny-tool-lm`` is shipped inside the package, so the quickstart needs no download. Everything
else is passed to the ordinary ``from_pretrained`` path unchanged; this module only refuses a local path
that does not exist, early and by name, instead of letting transformers try it as a hub id.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BUILTIN_MODELS", "BUILTIN_PREFIX", "looks_like_local_path", "resolve_model"]

BUILTIN_PREFIX = "builtin:"
_BUILTIN_ROOT = Path(__file__).parent / "builtin"
BUILTIN_MODELS: dict[str, Path] = {"tiny-tool-lm": _BUILTIN_ROOT / "tiny-tool-lm"}


def looks_like_local_path(name: str) -> bool:
    """True when ``name`` cannot be a hub id (``owner/name`` has exactly one slash and no prefix)."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or (os.sep != "/" and os.sep in name)


def resolve_model(name_or_path: str) -> str:
    """The directory or hub id to pass to ``from_pretrained``; raises ValueError naming a missing path."""
    if name_or_path.startswith(BUILTIN_PREFIX):
        key = name_or_path[len(BUILTIN_PREFIX) :]
        if key not in BUILTIN_MODELS:
            allowed = ", ".join(BUILTIN_PREFIX + known for known in BUILTIN_MODELS)
            raise ValueError(f"unknown built-in model {name_or_path!r}; allowed: {allowed}")
        return str(BUILTIN_MODELS[key])
    if Path(name_or_path).expanduser().is_dir():
        return str(Path(name_or_path).expanduser())
    if looks_like_local_path(name_or_path):
        raise ValueError(f"model directory {name_or_path!r} does not exist; give an existing path or a hub id")
    return name_or_path
