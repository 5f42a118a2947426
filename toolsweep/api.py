"""The Python way in, for notebooks and scripts: load a sweep file, run it, open a finished run.

The CLI is a thin layer over the same three calls. ``import toolsweep`` stays light: these names are
imported on first use (``toolsweep.__getattr__``), and Ray only when a sweep actually runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from toolsweep.analysis.rundir import RunDir
    from toolsweep.config.loader import Sweep

__all__ = ["load", "open_run", "run"]


def load(path: str | Path, overrides: Sequence[str] = ()) -> Sweep:
    """Parse and validate a sweep file, with ``--set``-style overrides (``"dpo.beta=0.2"``).

    Raises ``SweepFileError`` (a ``UserError``) listing every problem with its file, line and field."""
    from toolsweep.config.loader import load_sweep

    return load_sweep(path, list(overrides))


def run(sweep: Sweep | str | Path, *, resume: bool = False, address: str | None = None) -> RunDir:
    """Run (or ``resume``) a sweep on Ray Tune, locally or on the cluster at ``address``; return the finished
    run, as ``open_run`` would."""
    from toolsweep.analysis.rundir import load_run
    from toolsweep.sweeps.driver import run_sweep

    loaded = load(sweep) if isinstance(sweep, (str, Path)) else sweep
    summary = run_sweep(loaded, resume=resume, address=address)
    return load_run(summary.run_dir)


def open_run(run_dir: str | Path) -> RunDir:
    """A finished run directory: ``.summary`` (a ``SweepSummary``), ``.trials`` and ``.best()`` (``TrialRecord``s:
    ``trial_id``, ``status``, ``config``, ``metrics``...), ``.leaderboard()`` (a pandas DataFrame), ``.spec`` and
    ``.trial_spec(trial)``. Reads files only; needs no Ray."""
    from toolsweep.analysis.rundir import load_run

    return load_run(run_dir)
