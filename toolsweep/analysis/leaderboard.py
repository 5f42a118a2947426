"""The leaderboard: one row per trial with its searched values, status, scores, wall time and cost.

Rows are ordered by the sweep's own pick rule (``search.metric`` in ``search.mode``, ties to fewer
resource-seconds; trials that did not complete last), so row 1 is the trial ``toolsweep export`` ships.
Written as CSV for people and Parquet for notebooks; printed as a rich table.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from toolsweep.analysis.rundir import RunDir
from toolsweep.evaluation.metrics import test_set_keys
from toolsweep.ranking import ranked, resource_seconds

__all__ = ["leaderboard_frame", "print_leaderboard", "write_leaderboard"]


def _headline(keys: Any) -> list[str]:
    """The accuracy columns every leaderboard shows: each test set's, then validation's and SFT's."""
    return [*test_set_keys(keys), "val/exact_match", "sft/exact_match"]


def _cell(value: Any) -> Any:
    """Lists and dicts (e.g. lora.target_modules) become JSON text so every column has one type."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def leaderboard_frame(run: RunDir) -> Any:
    """A pandas DataFrame of every trial, best first (pandas imported here, not at module import)."""
    import pandas as pd

    metric = run.metric
    best = run.summary.best_trial
    categories = sorted({key.split("/")[-1] for t in run.trials for key in t.metrics if key.startswith("test/exact_match/")})
    headline = _headline(key for t in run.trials for key in t.metrics)
    rows = []
    ordered = ranked(run.trials, metric, run.mode)
    for rank, trial in enumerate(ordered, start=1):
        m = trial.metrics
        row: dict[str, Any] = {"rank": rank, "trial_id": trial.trial_id, "best": trial.trial_id == best,
                               "status": trial.status, "reason": trial.reason or ""}
        for path in run.searched:
            row[path] = _cell(trial.config.get(path))
        row[metric] = m.get(metric)
        for key in headline:
            row.setdefault(key, m.get(key))
        for category in categories:
            row[f"test/exact_match/{category}"] = m.get(f"test/exact_match/{category}")
        row["iterations"] = trial.iterations
        row["wall_seconds"] = m.get("cost/wall_seconds")
        row["resource_seconds"] = resource_seconds(trial) if m else None
        row["cpu_seconds"] = m.get("cost/cpu_seconds")
        row["gpu_seconds"] = m.get("cost/gpu_seconds")
        rows.append(row)
    return pd.DataFrame(rows)


def write_leaderboard(run: RunDir, out_dir: Path) -> tuple[Path, Path, Any]:
    """``leaderboard.csv`` and ``leaderboard.parquet`` in ``out_dir``; returns both paths and the frame."""
    frame = leaderboard_frame(run)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, parquet_path = out_dir / "leaderboard.csv", out_dir / "leaderboard.parquet"
    frame.to_csv(csv_path, index=False)
    # Searched values can mix types across trials (e.g. 'all-linear' vs a list): store them as text in Parquet.
    frame.astype({path: "string" for path in run.searched if frame[path].dtype == object}).to_parquet(parquet_path, index=False)
    return csv_path, parquet_path, frame


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def print_leaderboard(run: RunDir, frame: Any, console: Any = None) -> None:
    """The leaderboard as a rich table, with the pick rule under it."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=None if Console().is_terminal else 160)
    metric = run.metric
    columns = ["rank", "trial_id", "status", *run.searched, metric,
               *[key for key in _headline(frame.columns) if key != metric], "wall_seconds", "resource_seconds"]
    table = Table(title=f"sweep {run.name}: {len(frame)} trials, best first")
    for column in columns:
        table.add_column(column.replace("_seconds", " s"), justify="left" if column in ("trial_id", "status") else "right")
    for record in frame.to_dict("records"):
        status = record["status"] if not record["reason"] else f"{record['status']}: {record['reason'][:50]}"
        cells = [_fmt(record.get(c)) if c != "status" else status for c in columns]
        cells[1] += " *" if record["best"] else ""
        table.add_row(*cells)
    console.print(table)
    console.print(f"best: {run.summary.best_trial or 'none'} (*) — rule: {run.rule}")
