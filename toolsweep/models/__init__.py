"""Models: the built-in tiny tool-calling model (``builtin:tiny-tool-lm``) and model-name resolution.

``build`` (torch, transformers) is imported on use only: ``from toolsweep.models.build import build``.
"""

from toolsweep.models.registry import BUILTIN_MODELS, BUILTIN_PREFIX, resolve_model

__all__ = ["BUILTIN_MODELS", "BUILTIN_PREFIX", "resolve_model"]
