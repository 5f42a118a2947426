"""``toolsweep report RUN_DIR`` and the end of ``toolsweep run``: everything a finished sweep is summed up by.

Writes into ``RUN_DIR/report/`` (or ``--out``): ``leaderboard.csv``, ``leaderboard.parquet``, the PNG plots
and ``report.html``; prints the leaderboard and the pick rule. The variants table is read from
``RUN_DIR/variants.json`` or computed (one extra DPO run) when the sweep did not leave it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from toolsweep.analysis.rundir import RunDir, load_run

__all__ = ["build_report", "finish_sweep", "trial_retries"]


def build_report(run_dir: str | Path, out: str | Path | None = None, *, variants: bool = True,
                 console: Any = None, quiet: bool = False) -> dict[str, Any]:
    """Write the report files and return what was written (paths, plots, variants rows, best metrics)."""
    from toolsweep.analysis.html_report import render_html
    from toolsweep.analysis.leaderboard import print_leaderboard, write_leaderboard
    from toolsweep.analysis.plots import make_plots
    from toolsweep.analysis.variants import VARIANTS_FILE, load_or_compute_variants, variant_rows

    run = load_run(run_dir)
    out_dir = Path(out).expanduser().resolve() if out else run.path / "report"
    csv_path, parquet_path, frame = write_leaderboard(run, out_dir)
    has_winner = run.summary.best_trial is not None
    table = None
    if has_winner:
        table = load_or_compute_variants(run.path) if variants else run.read_json(VARIANTS_FILE)
    rows = variant_rows(table) if table else []
    plots = make_plots(run, frame, table, out_dir / "plots") if has_winner else {}
    html_path = out_dir / "report.html"
    retries = trial_retries(run)
    html_path.write_text(render_html(run, frame, table, rows, plots, retries=retries), encoding="utf-8")
    if not quiet:
        print_leaderboard(run, frame, console)
        for trial_id, text in retries.items():
            (console.print if console else print)(f"retries of {trial_id}: {text}")
        if rows:
            _print_variants(rows, console)
        if has_winner:
            _print_errors(run.best().metrics, table, console)
        (console.print if console else print)(f"report: {html_path}")
    best_metrics = {}
    if has_winner:
        best_metrics = {f"best/{k}": v for k, v in run.best().metrics.items() if k.startswith(("test/", run.metric))}
    return {"summary": run.summary, "searched": run.searched, "out_dir": out_dir, "leaderboard_csv": csv_path,
            "leaderboard_parquet": parquet_path, "html": html_path, "plots": plots, "variants": table,
            "variants_rows": rows, "best_metrics": best_metrics}


def trial_retries(run: RunDir) -> dict[str, str]:
    """Trials started more than once, and why: out-of-memory retries with the micro-batches they went through
    (``trainers.oom_retry``), or restarts after other failures, read from each trial's ``attempts.jsonl``."""
    from toolsweep.trainers.oom_retry import describe_retries, read_attempts

    found = {}
    for trial in run.trials:
        attempts = read_attempts(run.trial_dir(trial))
        if len(attempts) < 2:
            continue
        text = describe_retries(attempts)
        others = [a["failure"]["kind"] for a in attempts if a.get("failure") and not a.get("retry") and not a.get("gave_up")]
        if others:
            text = (f"{text}; " if text else "") + f"{len(others)} restart(s) after: {', '.join(others)}"
        found[trial.trial_id] = text or f"{len(attempts)} attempts (restarted without a recorded failure)"
    return found


def _print_variants(rows: list[dict[str, Any]], console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=None if Console().is_terminal else 160)
    table = Table(title="best configuration on the test split (exact match)")
    for column in rows[0]:
        table.add_column(column, justify="left" if column == "variant" else "right")
    for row in rows:
        table.add_row(*[v if isinstance(v, str) else ("-" if v is None else f"{100 * v:.1f}%") for v in row.values()])
    console.print(table)


def finish_sweep(run_dir: Path, wandb_settings: Any = None, variants_fn: Any = None) -> dict[str, Any] | None:
    """After ``toolsweep run``: variants (via ``variants_fn``, e.g. a Ray task), report files, the sweep-level
    W&B run and the ``wandb sync`` hint. A failure here never loses the sweep: summary.json is already written,
    and ``toolsweep report RUN_DIR`` redoes this part."""
    from toolsweep.analysis.wandb_logging import log_sweep_run, sync_command

    run: RunDir = load_run(run_dir)
    report = None
    try:
        if run.summary.best_trial is not None:
            if variants_fn is not None:
                variants_fn(run.path)
            else:
                from toolsweep.analysis.variants import compute_variants

                compute_variants(run.path)
        report = build_report(run.path, quiet=True)
        print(f"[toolsweep] report: {report['html']}")
        if wandb_settings is not None:
            log_sweep_run(wandb_settings, run.path, report)
    except Exception as exc:  # noqa: BLE001 - the sweep itself succeeded; say how to redo the analysis
        print(f"[toolsweep] the post-sweep report failed ({type(exc).__name__}: {exc}); "
              f"rerun it with `toolsweep report {run.path}`", file=sys.stderr)
    if wandb_settings is not None:
        command = sync_command(wandb_settings)
        if command:
            print(f"[toolsweep] W&B ran offline; upload the runs with: {command}")
        (run.path / "wandb_settings.json").write_text(json.dumps({"mode": wandb_settings.mode, "dir": wandb_settings.dir,
                                                                  "project": wandb_settings.project, "sync": command}))
    return report


def _print_errors(best: dict[str, float], variants: dict[str, Any] | None, console: Any = None) -> None:
    """Failed headline-test examples by error kind (the first error of each), for the winner and its variants:
    the decisions When2Call asks about (should_have_asked, asked_needlessly, spurious_call) beside the rest."""
    from rich.console import Console
    from rich.table import Table

    columns = {"SFT+DPO (best)": {k[len("test/errors/"):]: v for k, v in best.items() if k.startswith("test/errors/")}}
    for name, label in (("base", "base model"), ("sft", "SFT only"), ("dpo", "DPO only")):
        metrics = ((variants or {}).get("variants") or {}).get(name)
        if metrics:
            columns[label] = {k[len("errors/"):]: v for k, v in metrics.items() if k.startswith("errors/")}
    kinds = [kind for kind in dict.fromkeys(k for counts in columns.values() for k in counts)
             if any(counts.get(kind) for counts in columns.values())]
    if not kinds:
        return
    order = [label for label in ("base model", "SFT only", "DPO only", "SFT+DPO (best)") if label in columns]
    console = console or Console(width=None if Console().is_terminal else 160)
    table = Table(title="failed test examples by error kind")
    table.add_column("error kind")
    for label in order:
        table.add_column(label, justify="right")
    for kind in kinds:
        table.add_row(kind, *[f"{columns[label].get(kind, 0):.0f}" for label in order])
    console.print(table)
