"""Fast tests of the analysis library on hand-made run directories: no training, no Ray, no W&B run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolsweep.analysis.manifest import ManifestMismatch, verify_manifest, write_manifest
from toolsweep.analysis.rundir import load_run
from toolsweep.analysis.wandb_logging import resolve_wandb, sync_command
from toolsweep.config.schema import WandbConfig
from toolsweep.errors import UserError


def _trial(trial_id: str, status: str, score: float | None, cost: float, r: int, modules: object) -> dict:
    metrics = {} if score is None else {
        "val/exact_match": score, "test/exact_match": score, "test/exact_match/simple": score,
        "test/errors/missed_call": 3.0, "test/errors/wrong_tool": 1.0,
        "cost/wall_seconds": cost, "cost/cpu_seconds": cost, "cost/gpu_seconds": 0.0,
    }
    return {"trial_id": trial_id, "status": status, "reason": None if status == "completed" else "stopped early",
            "config": {"lora.r": r, "lora.target_modules": modules}, "metrics": metrics, "iterations": 3,
            "checkpoint": None, "trial_dir": f"/elsewhere/trials/{trial_id}"}


@pytest.fixture
def fake_run(tmp_path: Path) -> Path:
    """A run directory as `toolsweep run` leaves it, minus the weights: summary.json and sweep.json."""
    trials = [
        _trial("t_0", "completed", 0.50, 30.0, 8, "all-linear"),
        _trial("t_1", "completed", 0.75, 40.0, 16, ["q_proj", "v_proj"]),
        _trial("t_2", "completed", 0.75, 20.0, 4, "all-linear"),  # ties t_1, cheaper: the winner
        _trial("t_3", "stopped", 0.25, 5.0, 32, "all-linear"),
        _trial("t_4", "failed", None, 0.0, 2, "all-linear"),
    ]
    summary = {"name": "fake", "run_dir": str(tmp_path), "metric": "val/exact_match", "mode": "max",
               "rule": "highest val/exact_match among completed trials; ties go to fewer resource-seconds",
               "best_trial": "t_2", "trials": trials}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "sweep.json").write_text(json.dumps({"source": "x.yaml", "spec": {"name": "fake"},
                                                     "space": ["lora.r", "lora.target_modules"]}))
    return tmp_path


def test_run_dir_without_summary_says_to_run_the_sweep_first(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="has no summary.json; run `toolsweep run` first"):
        load_run(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        load_run(tmp_path / "missing")


def test_best_pick_reuses_the_sweep_rule_ties_go_to_the_cheaper_trial(fake_run: Path) -> None:
    run = load_run(fake_run)
    assert run.best().trial_id == "t_2"


def test_leaderboard_orders_by_the_rule_and_writes_csv_and_parquet(fake_run: Path, tmp_path: Path) -> None:
    import pandas as pd

    from toolsweep.analysis.leaderboard import write_leaderboard

    csv_path, parquet_path, frame = write_leaderboard(load_run(fake_run), tmp_path / "out")
    assert frame["trial_id"].tolist() == ["t_2", "t_1", "t_0", "t_3", "t_4"]
    assert frame["best"].tolist() == [True, False, False, False, False]
    from_csv, from_parquet = pd.read_csv(csv_path), pd.read_parquet(parquet_path)
    assert list(from_csv.columns) == list(from_parquet.columns) == list(frame.columns)
    for column in ("lora.r", "status", "wall_seconds", "resource_seconds", "test/exact_match/simple"):
        assert column in from_parquet
    assert json.loads(from_parquet.set_index("trial_id").loc["t_1", "lora.target_modules"]) == ["q_proj", "v_proj"]


def test_report_without_variants_still_writes_every_file(fake_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from toolsweep.analysis.report import build_report

    out = tmp_path / "report"
    report = build_report(fake_run, out, variants=False)
    assert {p.name for p in (out / "plots").iterdir()} >= {
        "accuracy_vs_lora_r.png", "accuracy_vs_lora_target_modules.png", "parallel_coordinates.png", "error_taxonomy.png"}
    for path in report["plots"].values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(report["plots"])
    assert "ties go to fewer resource-seconds" in html and "<script" not in html
    printed = capsys.readouterr().out
    assert "rule: highest val/exact_match" in printed and "t_2 *" in printed


def test_wandb_mode_auto_follows_the_api_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_DIR", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    offline = resolve_wandb(WandbConfig(mode="auto"), "s", tmp_path)
    assert offline.mode == "offline" and offline.dir == str(tmp_path / "wandb")
    assert sync_command(offline) == f"wandb sync {tmp_path / 'wandb' / 'wandb'}/offline-run-*"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    online = resolve_wandb(WandbConfig(mode="auto"), "s", tmp_path)
    assert online.mode == "online" and sync_command(online) is None
    assert "x" * 40 not in repr(online)  # the settings shipped to trials never carry the key
    (tmp_path / "netrc").write_text("machine api.wandb.ai login user password " + "y" * 40 + "\n")
    monkeypatch.delenv("WANDB_API_KEY")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert resolve_wandb(WandbConfig(mode="auto"), "s", tmp_path).mode == "online"


def test_wandb_env_mode_applies_to_auto_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "elsewhere"))
    assert resolve_wandb(WandbConfig(mode="auto"), "s", tmp_path).enabled is False
    explicit = resolve_wandb(WandbConfig(mode="offline"), "s", tmp_path)
    assert explicit.mode == "offline" and explicit.dir == str(tmp_path / "elsewhere")


def test_manifest_catches_a_changed_a_missing_and_an_added_file(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 64)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "tokenizer.json").write_text("{}")
    manifest = write_manifest(tmp_path)
    assert set(manifest["files"]) == {"model.safetensors", "sub/tokenizer.json"}
    assert verify_manifest(tmp_path) == manifest
    (tmp_path / "model.safetensors").write_bytes(b"\x01" + b"\x00" * 63)  # same size, different content
    (tmp_path / "sub" / "tokenizer.json").unlink()
    (tmp_path / "extra.bin").write_bytes(b"pickle")
    with pytest.raises(ManifestMismatch) as failure:
        verify_manifest(tmp_path)
    message = str(failure.value)
    assert "changed: model.safetensors" in message and "missing: sub/tokenizer.json" in message
    assert "not in the manifest: extra.bin" in message


def test_the_readme_python_example_runs_as_written(analysis_run: Path, tmp_path: Path) -> None:
    """README's Python API block, in a fresh interpreter, in a folder laid out as after the quickstart."""
    import re
    import subprocess
    import sys

    root = Path(__file__).parents[2]
    (block,) = re.findall(r"```python\n(.+?)\n```", (root / "README.md").read_text(), re.DOTALL)
    (tmp_path / "configs").symlink_to(root / "configs")
    (tmp_path / "toolsweep_runs").mkdir()
    (tmp_path / "toolsweep_runs" / "quickstart").symlink_to(analysis_run)
    done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    best = load_run(analysis_run).best()
    assert best.trial_id in done.stdout and "['data.sources.clarify.weight', 'dpo.beta'" in done.stdout


class _FakeRun:
    """What WandbTrialReporter uses of a wandb Run: summary, log, define_metric and finish."""

    def __init__(self) -> None:
        self.summary: dict = {}
        self.finished: list[int] = []

    def define_metric(self, *args: object, **kwargs: object) -> None:
        pass

    def log(self, row: dict) -> None:
        pass

    def finish(self, exit_code: int = 0) -> None:
        self.finished.append(exit_code)


@pytest.mark.parametrize(("how", "status", "exit_code"), [
    ({"stopped": True}, "stopped", 0), ({"error": RuntimeError("boom")}, "failed", 1), ({}, "completed", 0)])
def test_wandb_trial_run_ends_once_with_its_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   how: dict, status: str, exit_code: int) -> None:
    """An ASHA-stopped trial is a run marked stopped, not a failure; a second close does nothing."""
    import wandb

    from toolsweep.analysis import wandb_logging
    from toolsweep.config.schema import SweepSpec

    run = _FakeRun()
    monkeypatch.setattr(wandb_logging, "_init", lambda *args, **kwargs: run)
    monkeypatch.setattr(wandb, "teardown", lambda: None)
    settings = resolve_wandb(WandbConfig(mode="offline"), "s", tmp_path)
    spec = SweepSpec.model_validate({"name": "s", "model": {"name": "builtin:tiny-tool-lm"}})
    reporter = wandb_logging.WandbTrialReporter(lambda metrics: None, settings, spec, {}, tmp_path / "t_1")
    reporter.close(**how)
    reporter.close(error=RuntimeError("a later failure handler"))
    assert run.finished == [exit_code]
    assert run.summary["trial/status"] == status and ("trial/error" in run.summary) == (status == "failed")


def test_learning_curves_draw_the_trainer_log_between_reports() -> None:
    """A stage's loss log (every ``logging_steps``) is drawn rather than the loss at the few validation
    reports, with DPO's steps counted after SFT's; without a log the reports' losses still draw a line."""
    import pandas as pd

    from toolsweep.analysis.plots import _draw_losses, _pyplot

    reports = pd.DataFrame([
        {"sft/step": 4.0, "step": 4.0, "sft/loss": 2.0, "val/exact_match": 0.1},
        {"sft/step": 8.0, "step": 8.0, "sft/loss": 1.0, "val/exact_match": 0.3},
        {"dpo/step": 2.0, "step": 10.0, "dpo/loss": 0.6, "val/exact_match": 0.4},
    ])
    logged = {"sft": pd.DataFrame({"step": [float(s) for s in range(1, 9)], "loss": [3.0 - s / 4 for s in range(8)]}),
              "dpo": pd.DataFrame({"step": [1.0, 2.0], "loss": [0.7, 0.6]})}
    plt = _pyplot()
    _, (sft_ax, dpo_ax) = plt.subplots(1, 2)
    _draw_losses({"sft": sft_ax, "dpo": dpo_ax}, reports, logged, "tab:blue", "t_0")
    assert list(sft_ax.lines[0].get_xdata()) == [float(s) for s in range(1, 9)]
    assert list(dpo_ax.lines[0].get_xdata()) == [9.0, 10.0]
    _, (sft_ax, dpo_ax) = plt.subplots(1, 2)
    _draw_losses({"sft": sft_ax, "dpo": dpo_ax}, reports, {"sft": pd.DataFrame(), "dpo": pd.DataFrame()}, "k", "t_0")
    assert list(sft_ax.lines[0].get_xdata()) == [4.0, 8.0] and list(dpo_ax.lines[0].get_xdata()) == [10.0]
    plt.close("all")
