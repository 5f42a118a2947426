"""The report's figures as PNG files (matplotlib, Agg backend: no display needed, safe in CI and on clusters).

Accuracy against each searched hyperparameter, a parallel-coordinates view of all of them at once, learning
curves of the top trials (losses from each stage's Trainer log, every ``logging_steps``; validation scores from
Ray Tune's record of each trial's reports, falling back to the stages' validation history), and the best
trial's error taxonomy against the base model's on the test split.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from toolsweep.analysis.rundir import RunDir
from toolsweep.errors import UserError
from toolsweep.evaluation.metrics import test_set_keys

__all__ = ["error_taxonomy_plot", "learning_curves", "make_plots", "parallel_coordinates", "param_plots"]

_TOP_TRIALS = 5
# One color and marker per test set (test/exact_match first), beside the sweep metric's blue.
_COLORS = ("tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")
_MARKERS = ("^", "v", "s", "D", "P", "X")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _positions(values: list[Any]) -> tuple[list[float], list[str] | None, bool]:
    """x positions for values: numbers as they are (log scale when they span >= 20x), others as categories."""
    present = [v for v in values if v is not None]
    if present and _numeric(present):
        low, high = min(present), max(present)
        return [float(v) if v is not None else math.nan for v in values], None, low > 0 and high / low >= 20
    labels = sorted({str(v) for v in present})
    return [float(labels.index(str(v))) if v is not None else math.nan for v in values], labels, False


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def param_plots(run: RunDir, frame: Any, out_dir: Path) -> dict[str, Path]:
    """One scatter per searched field: the sweep metric (and test accuracy) of every trial that has it."""
    plt = _pyplot()
    plots: dict[str, Path] = {}
    completed = frame["status"] == "completed"
    for path in run.searched:
        xs, labels, log = _positions(frame[path].tolist())
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        for mask, style, label in ((completed, {"color": "tab:blue"}, "completed"),
                                   (~completed, {"color": "tab:gray", "marker": "x"}, "stopped/failed")):
            pts = [(x, y) for x, y, keep in zip(xs, frame[run.metric], mask) if keep and y is not None and not math.isnan(y)]
            if pts:
                ax.scatter(*zip(*pts), label=f"{run.metric} ({label})", **style)
        for column, color, marker in zip(test_set_keys(frame.columns), _COLORS, _MARKERS):
            if column not in frame or run.metric == column:
                continue
            pts = [(x, y) for x, y, keep in zip(xs, frame[column], completed) if keep and y is not None and not math.isnan(y)]
            if pts:
                ax.scatter(*zip(*pts), label=column, color=color, marker=marker, alpha=0.8)
        if log:
            ax.set_xscale("log")
        if labels is not None:
            ax.set_xticks(range(len(labels)), [label[:18] for label in labels], rotation=20)
        ax.set_xlabel(path)
        ax.set_ylabel("accuracy" if "exact_match" in run.metric else run.metric)
        if "exact_match" in run.metric:
            ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"{run.metric} vs {path}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        plots[f"vs_{_slug(path)}"] = _save(fig, out_dir / f"accuracy_vs_{_slug(path)}.png")
    return plots


def parallel_coordinates(run: RunDir, frame: Any, out_dir: Path) -> Path | None:
    """Every searched field and the metric as parallel axes, each trial one line coloured by its score."""
    plt = _pyplot()
    scored = frame[frame[run.metric].notna()]
    if scored.empty:
        return None
    axes_names = [*run.searched, run.metric]
    columns, ticks = [], []
    for name in axes_names:
        xs, labels, log = _positions(scored[name].tolist())
        values = [math.log10(x) if log and x > 0 else x for x in xs]
        low, high = min(values), max(values)
        span = high - low or 1.0
        columns.append([(v - low) / span if high > low else 0.5 for v in values])
        ticks.append(labels or [f"{(10 ** low if log else low):.3g}", f"{(10 ** high if log else high):.3g}"])
    cmap = plt.get_cmap("viridis")
    scores = scored[run.metric].tolist()
    lo, hi = min(scores), max(scores)
    fig, ax = plt.subplots(figsize=(max(5.0, 2.2 * len(axes_names)), 4.2))
    best = scored["best"].tolist() if "best" in scored else [False] * len(scores)
    for i, score in enumerate(scores):
        colour = cmap((score - lo) / (hi - lo) if hi > lo else 0.5)
        ax.plot(range(len(axes_names)), [column[i] for column in columns], color=colour, alpha=0.85, marker="o",
                linewidth=3.5 if best[i] else 1.2, zorder=3 if best[i] else 2, label="best trial" if best[i] else None)
    for j, labels in enumerate(ticks):
        ax.axvline(j, color="black", linewidth=0.8)
        ax.annotate(labels[0], (j, -0.08), ha="center", fontsize=7, annotation_clip=False)
        ax.annotate(labels[-1], (j, 1.04), ha="center", fontsize=7, annotation_clip=False)
    ax.set_xticks(range(len(axes_names)), axes_names, fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.12, 1.1)
    ax.set_title(f"parallel coordinates (colour: {run.metric}; thick line: the best trial)")
    mappable = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(lo, hi))
    fig.colorbar(mappable, ax=ax, label=run.metric)
    return _save(fig, out_dir / "parallel_coordinates.png")


def _with_steps(rows: list[dict[str, Any]]) -> Any:
    """Reports as a DataFrame with ``step``: the optimizer step, counting DPO steps after the SFT ones."""
    import pandas as pd

    sft_steps = 0.0
    for row in rows:
        if "dpo/step" in row:
            row["step"] = sft_steps + row["dpo/step"]
        elif "sft/step" in row:
            sft_steps = max(sft_steps, row["sft/step"])
            row["step"] = row["sft/step"]
    frame = pd.DataFrame(rows)
    return frame.dropna(subset=["step"]).drop_duplicates(subset=["step"]) if "step" in frame else pd.DataFrame()


def _trial_curves(run: RunDir, trial_id: str) -> Any:
    """Every report the trial made, from Tune's ``result.json`` (``progress.csv`` keeps only the columns of
    the first report, which lack DPO's); falling back to the SFT stage's validation history."""
    import json

    for results in sorted((run.path / "tune").glob(f"*{trial_id}*/result.json")):
        rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
        rows = [row for row in rows if str(row.get("trial_id", trial_id)) == trial_id]
        if rows:
            return _with_steps(rows)
    stage = run.trial_dir(run.trial(trial_id)) / "sft" / "stage.json"
    history = json.loads(stage.read_text()).get("history", []) if stage.is_file() else []
    return _with_steps(history)


def _stage_losses(run: RunDir, trial_id: str) -> dict[str, Any]:
    """Each stage's logged training loss as a DataFrame of ``step`` and ``loss`` (empty: nothing logged, e.g. a
    trial directory copied without its stages); the reports to Tune carry the loss only at validation points."""
    import pandas as pd

    from toolsweep.trainers.stages import training_losses

    try:
        dirs = run.stage_dirs(run.trial(trial_id))
    except UserError:  # a trial without its config.json: the reports' losses still draw a curve
        return {"sft": pd.DataFrame(), "dpo": pd.DataFrame()}
    return {name: pd.DataFrame(training_losses(path)) for name, path in dirs.items()}


def _draw_losses(axes: dict[str, Any], curves: Any, logged: dict[str, Any], colour: Any, label: str) -> None:
    """SFT and DPO loss for one trial: the Trainer's log when there is one, else the loss at each report.
    DPO steps are counted after the SFT ones, so the panels share the validation panel's step axis."""
    in_dpo = curves["dpo/step"].notna() if "dpo/step" in curves else curves["step"] < 0
    reported = {"sft": curves.loc[~in_dpo], "dpo": curves.loc[in_dpo]}
    sft_end = max(logged["sft"]["step"].max() if not logged["sft"].empty else 0.0,
                  curves["sft/step"].max() if "sft/step" in curves else 0.0)
    for name, ax in axes.items():
        if not logged[name].empty:
            steps = logged[name]["step"] + (sft_end if name == "dpo" else 0.0)
            ax.plot(steps, logged[name]["loss"], color=colour, label=label, linewidth=1.2)
        elif f"{name}/loss" in curves:
            part = reported[name][["step", f"{name}/loss"]].dropna()
            ax.plot(part["step"], part[f"{name}/loss"], marker=".", color=colour, label=label)


def learning_curves(run: RunDir, frame: Any, out_dir: Path) -> Path | None:
    """SFT loss, DPO loss (their scales differ, so separate panels) and validation score over optimizer steps
    for the top trials. Losses come from each stage's Trainer log (``_stage_losses``), so a trial that reused
    a cached SFT stage draws that stage's curve; validation scores come from the trial's reports."""
    plt = _pyplot()
    top = frame[frame[run.metric].notna()].head(_TOP_TRIALS)["trial_id"].tolist()
    if not top:
        return None
    fig, (sft_ax, dpo_ax, val_ax) = plt.subplots(1, 3, figsize=(14, 4))
    colours = plt.get_cmap("tab10")
    drawn = False
    for i, trial_id in enumerate(top):
        curves = _trial_curves(run, trial_id)
        if curves.empty:
            continue
        _draw_losses({"sft": sft_ax, "dpo": dpo_ax}, curves, _stage_losses(run, trial_id), colours(i), trial_id)
        metric = run.metric if run.metric in curves else "val/exact_match"
        if metric in curves:
            part = curves[["step", metric]].dropna()
            val_ax.plot(part["step"], part[metric], marker="o", color=colours(i), label=trial_id, alpha=0.8)
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    sft_ax.set(title="SFT loss", xlabel="optimizer step", ylabel="loss")
    dpo_ax.set(title="DPO loss", xlabel="optimizer step (after SFT)", ylabel="loss")
    val_ax.set(title=f"{run.metric} at validation points", xlabel="optimizer step (SFT then DPO)", ylabel=run.metric)
    if "exact_match" in run.metric:
        val_ax.set_ylim(-0.03, 1.03)
    for ax in (sft_ax, dpo_ax, val_ax):
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=7)
    return _save(fig, out_dir / "learning_curves.png")


def error_taxonomy_plot(run: RunDir, variants: dict[str, Any] | None, out_dir: Path) -> Path | None:
    """Failed test examples by error kind: the best trial against the base model (and the other variants)."""
    plt = _pyplot()
    best = run.best()
    series = {"SFT+DPO (best)": {k[len("test/errors/"):]: v for k, v in best.metrics.items() if k.startswith("test/errors/")}}
    labels = {"base": "base model", "sft": "SFT only", "dpo": "DPO only"}
    for name, label in labels.items():
        metrics = ((variants or {}).get("variants") or {}).get(name)
        if metrics:
            series[label] = {k[len("errors/"):]: v for k, v in metrics.items() if k.startswith("errors/")}
    kinds = sorted({kind for counts in series.values() for kind in counts})
    if not kinds:
        return None
    order = [label for label in ("base model", "SFT only", "DPO only", "SFT+DPO (best)") if label in series]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(kinds)), 4))
    width = 0.8 / len(order)
    for i, label in enumerate(order):
        ax.bar([k + i * width for k in range(len(kinds))], [series[label].get(kind, 0) for kind in kinds], width, label=label)
    ax.set_xticks([k + width * (len(order) - 1) / 2 for k in range(len(kinds))], kinds, rotation=25, ha="right")
    ax.set_ylabel("failed test examples")
    ax.set_title(f"error taxonomy on the test split ({best.trial_id} vs base)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out_dir / "error_taxonomy.png")


def make_plots(run: RunDir, frame: Any, variants: dict[str, Any] | None, out_dir: Path) -> dict[str, Path]:
    """Every figure of the report, keyed by a short name; figures without data are left out."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = param_plots(run, frame, out_dir)
    for name, path in (("parallel_coordinates", parallel_coordinates(run, frame, out_dir)),
                       ("learning_curves", learning_curves(run, frame, out_dir)),
                       ("error_taxonomy", error_taxonomy_plot(run, variants, out_dir))):
        if path is not None:
            plots[name] = path
    return plots
