"""DeepSpeed ZeRO configs: our defaults (``zero2``, ``zero3``, JSON beside this file) or a user's file.

The defaults leave batch sizes, precision and clipping as ``"auto"`` so the HF Trainer fills them from the
stage config; a user's JSON is passed through as written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["deepspeed_config"]

_HERE = Path(__file__).parent


def deepspeed_config(name: str | None) -> dict[str, Any] | None:
    """None (no DeepSpeed), one of our defaults by name, or a user's JSON file loaded as a dict."""
    if name is None:
        return None
    path = _HERE / f"{name}.json" if name in ("zero2", "zero3") else Path(name).expanduser()
    return json.loads(path.read_text())
