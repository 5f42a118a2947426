"""Weights & Biases: one W&B run per trial, grouped by sweep, plus one sweep-level run with the results.

Ray's own ``WandbLoggerCallback`` sees only what reaches ``tune.report`` (validation points), so the trial's
reporter is wrapped instead: every training log line and validation report goes to W&B as it happens, and the
final test metrics (per category) and failed test examples land in the run's summary and a table.

The mode is settled once, in the driver (:func:`resolve_wandb`), and shipped to the trials as plain data:
``auto`` is online only when an API key is configured, offline otherwise (``wandb sync`` uploads later), and
an explicit ``WANDB_MODE`` in the environment is honoured under ``auto``. The key itself is never copied into
anything we write: W&B reads it from the environment or ~/.netrc in each process that logs.
``wandb`` is imported only when a run is actually created.
"""

from __future__ import annotations

import json
import netrc
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from toolsweep.config.schema import SweepSpec, WandbConfig
from toolsweep.records import SweepSummary

__all__ = [
    "WandbSettings",
    "WandbTrialReporter",
    "api_key_configured",
    "key_hyperparameters",
    "log_sweep_run",
    "resolve_wandb",
    "sync_command",
    "wrap_reporter",
]

_FAILURE_ROWS = 500  # a table of failed examples beyond this is not read by anyone
_WANDB_ENV_MODES = {"online": "online", "offline": "offline", "disabled": "disabled", "dryrun": "offline", "run": "online"}


@dataclass(frozen=True)
class WandbSettings:
    """What every process needs to log to W&B; plain data so it pickles to Ray workers. No secrets."""

    mode: str  # online | offline | disabled
    project: str
    entity: str | None
    group: str
    dir: str

    @property
    def enabled(self) -> bool:
        return self.mode != "disabled"


def api_key_configured() -> bool:
    """Whether W&B would find an API key here (env or ~/.netrc); the key is read, never returned."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        auth = netrc.netrc(os.environ.get("NETRC")).authenticators(host)
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False
    return bool(auth and auth[2])


def resolve_wandb(config: WandbConfig, group: str, run_dir: Path) -> WandbSettings:
    """Settle ``auto`` into online/offline and choose the W&B directory (``$WANDB_DIR`` or RUN_DIR/wandb)."""
    mode = config.mode
    if mode == "auto":
        from_env = _WANDB_ENV_MODES.get(os.environ.get("WANDB_MODE", "").strip().lower())
        mode = from_env or ("online" if api_key_configured() else "offline")
    directory = os.environ.get("WANDB_DIR") or str(Path(run_dir) / "wandb")
    return WandbSettings(mode=mode, project=config.project, entity=config.entity, group=group, dir=directory)


def sync_command(settings: WandbSettings) -> str | None:
    """The command that uploads offline runs later, or None when there is nothing to sync."""
    if settings.mode != "offline":
        return None
    return f"wandb sync {Path(settings.dir) / 'wandb'}/offline-run-*"


def key_hyperparameters(spec: SweepSpec) -> dict[str, Any]:
    """The resolved hyperparameters worth a column in W&B, beside the searched values."""
    out: dict[str, Any] = {
        "model.name": spec.model.name,
        "seed": spec.seed,
        "lora.enabled": spec.lora.enabled,
        "lora.r": spec.lora.r,
        "lora.alpha": spec.lora.effective_alpha,
        "lora.dropout": spec.lora.dropout,
        "data.train_examples": spec.data.train_examples,
        "data.preference_pairs": spec.data.preference_pairs,
        "data.test_examples": spec.data.test_examples,
        "resources.workers": spec.resources.workers,
    }
    for name, source in spec.data.sources.items():
        out[f"data.sources.{name}.weight"] = source.weight
    for stage_name in ("sft", "dpo"):
        stage = getattr(spec, stage_name)
        for key in ("enabled", "learning_rate", "max_steps", "batch_size", "gradient_accumulation_steps", "lr_scheduler"):
            out[f"{stage_name}.{key}"] = getattr(stage, key)
    out["dpo.beta"] = spec.dpo.beta
    out["dpo.loss_type"] = spec.dpo.loss_type
    out["dpo.sft_weight"] = spec.dpo.sft_weight
    return out


def _init(settings: WandbSettings, *, name: str, job_type: str, config: dict[str, Any]) -> Any:
    import wandb

    Path(settings.dir).mkdir(parents=True, exist_ok=True)
    return wandb.init(
        project=settings.project, entity=settings.entity, group=settings.group, name=name, job_type=job_type,
        config=config, dir=settings.dir, mode=settings.mode, reinit="finish_previous",
        settings=wandb.Settings(console="off", silent=True, x_disable_stats=True, save_code=False),
    )


def _warn(what: str, exc: BaseException) -> None:
    print(f"[toolsweep] W&B {what} failed, training goes on without it: {type(exc).__name__}: {exc}", file=sys.stderr)


def failures_table(path: Path) -> Any:
    """A ``wandb.Table`` of failed examples from a ``*_failures.jsonl`` file (one row per failure)."""
    import wandb

    columns = ["id", "category", "error_kind", "prompt", "expected", "raw_output", "messages"]
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines()[:_FAILURE_ROWS]:
            record = json.loads(line)
            rows.append([record.get("id"), record.get("category"), record.get("error_kind"), record.get("prompt"),
                         json.dumps(record.get("expected")), record.get("raw_output"),
                         "; ".join(record.get("messages") or [])])
    return wandb.Table(columns=columns, data=rows)


class WandbTrialReporter:
    """Wraps a trial's reporter (``__call__`` per report, ``final`` at the end) and mirrors it to W&B.

    W&B problems never fail a trial: a failed init or log is reported once on stderr and logging stops.

    A trial the scheduler stops (ASHA) ends as a run marked ``trial/status: stopped``, not as a failure. Ray
    ends a stopped trial's process right after telling its training thread to stop, so that close can lose the
    race against the process exit: the run then stays unfinished and W&B's exit hook prints a connection
    traceback (seen for 3 of 6 stopped quickstart trials; an exit hook of ours that waited for the close did
    not prevent it).
    """

    def __init__(self, inner: Any, settings: WandbSettings, spec: SweepSpec, values: dict[str, Any], trial_dir: Path) -> None:
        self.inner = inner
        self.trial_dir = Path(trial_dir)
        self.step = 0
        self.run: Any = None
        try:
            config = {**key_hyperparameters(spec), **values, "trial_id": self.trial_dir.name, "searched": sorted(values)}
            self.run = _init(settings, name=self.trial_dir.name, job_type="trial", config=config)
            self.run.define_metric("global_step")
            self.run.define_metric("*", step_metric="global_step")
        except Exception as exc:  # noqa: BLE001 - logging must not break training
            _warn("init", exc)

    def __getattr__(self, name: str) -> Any:  # cost(), latest, ... of the wrapped reporter
        return getattr(self.inner, name)

    def _log(self, metrics: dict[str, float]) -> None:
        if self.run is None:
            return
        step = metrics.get("training_iteration_step")
        if step is not None:
            self.step = max(self.step, int(step))
        try:
            self.run.log({**metrics, "global_step": self.step})
        except Exception as exc:  # noqa: BLE001
            _warn("log", exc)
            self.run = None

    def __call__(self, metrics: dict[str, float]) -> None:
        self._log(metrics)
        self.inner(metrics)

    def final(self, metrics: dict[str, float], model_dir: str | None) -> None:
        self.close(metrics)
        self.inner.final(metrics, model_dir)

    def close(self, metrics: dict[str, float] | None = None, error: BaseException | None = None, *,
              stopped: bool = False) -> None:
        """Write the summary and failure table, then finish the run: exit code 1 after an error, 0 when it
        completed or the scheduler ``stopped`` it early. Only the first call does anything."""
        if self.run is None:
            return
        run, self.run = self.run, None
        try:
            summary = dict(metrics or {})
            cost = getattr(self.inner, "cost", None)
            if callable(cost):
                summary.update(cost())
            summary["trial/status"] = "failed" if error is not None else "stopped" if stopped else "completed"
            if error is not None:
                summary["trial/error"] = f"{type(error).__name__}: {error}"[:500]
            run.summary.update(summary)
            for failures in sorted(self.trial_dir.glob("test*_failures.jsonl")):  # test set and its slices
                key = failures.name.removesuffix("_failures.jsonl").replace("test_", "test/", 1)
                run.log({f"{key}/failures": failures_table(failures), "global_step": self.step})
            run.finish(exit_code=1 if error is not None else 0)
            import wandb

            # Stop W&B's service now: at exit Ray kills the worker first, and W&B's own atexit teardown
            # then prints a ConnectionResetError traceback per trial. The next trial here restarts it.
            wandb.teardown()
        except Exception as exc:  # noqa: BLE001
            _warn("finish", exc)


def wrap_reporter(inner: Any, settings: WandbSettings | None, spec: SweepSpec, values: dict[str, Any], trial_dir: Path) -> Any:
    """``inner`` itself when W&B is off; otherwise a reporter that also logs the trial as a W&B run."""
    if settings is None or not settings.enabled:
        return inner
    return WandbTrialReporter(inner, settings, spec, values, trial_dir)


def log_sweep_run(settings: WandbSettings, run_dir: Path, report: dict[str, Any]) -> None:
    """One W&B run (job_type "sweep") with the leaderboard, the variants table and the report's plots."""
    if not settings.enabled:
        return
    import pandas as pd
    import wandb

    summary: SweepSummary = report["summary"]
    try:
        run = _init(settings, name=f"{summary.name}-sweep", job_type="sweep",
                    config={"sweep": summary.name, "metric": summary.metric, "mode": summary.mode,
                            "rule": summary.rule, "searched": report.get("searched", [])})
        board = pd.read_csv(report["leaderboard_csv"])
        logged: dict[str, Any] = {"leaderboard": wandb.Table(dataframe=board.astype(str))}
        variants = report.get("variants_rows")
        if variants:
            logged["variants"] = wandb.Table(columns=list(variants[0]), data=[list(row.values()) for row in variants])
        for name, path in report.get("plots", {}).items():
            logged[f"plots/{name}"] = wandb.Image(str(path))
        run.log(logged)
        run.summary.update({"best_trial": summary.best_trial, "rule": summary.rule, **report.get("best_metrics", {})})
        run.finish()
    except Exception as exc:  # noqa: BLE001 - the sweep's results are on disk either way
        _warn("sweep run", exc)
