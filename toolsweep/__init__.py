"""toolsweep: find the best SFT→DPO LoRA recipe for tool calling with Ray Tune sweeps.

Python API (``toolsweep.api``): ``toolsweep.load(path, overrides)``, ``toolsweep.run(sweep)`` and
``toolsweep.open_run(run_dir)``, and the records a finished run is read into (``TrialRecord``,
``SweepSummary``); imported on first use, so ``import toolsweep`` pulls in nothing heavy.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["SweepSummary", "TrialRecord", "__version__", "load", "open_run", "run"]


def __getattr__(name: str) -> Any:
    if name in ("load", "open_run", "run"):
        from toolsweep import api

        return getattr(api, name)
    if name in ("SweepSummary", "TrialRecord"):
        from toolsweep import records

        return getattr(records, name)
    raise AttributeError(f"module 'toolsweep' has no attribute {name!r}")
