"""Models: the built-in models (``builtin:tiny-tool-lm`` ships here), their tokenizer and chat templates, and
model-name resolution.

Building the tiny model is training, so it lives in ``toolsweep.trainers.build_builtin``.
"""

from toolsweep.models.registry import BUILTIN_MODELS, BUILTIN_PREFIX, resolve_model

__all__ = ["BUILTIN_MODELS", "BUILTIN_PREFIX", "resolve_model"]
