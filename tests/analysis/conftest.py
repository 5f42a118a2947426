"""One small finished sweep per session (two trials, W&B offline), shared by the report/export/W&B tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from analysis_helpers import FAKE_KEY


def sweep_file(tmp: Path, model_dir: Path, name: str) -> Path:
    spec = {
        "name": name,
        "model": {"name": str(model_dir)},
        "data": {"train_examples": 24, "preference_pairs": 8, "validation_examples": 4, "test_examples": 8},
        "lora": {"r": {"grid": [2, 4]}},
        "sft": {"max_steps": 4, "batch_size": 4, "eval_every": 2, "learning_rate": 5e-3},
        "dpo": {"max_steps": 2, "batch_size": 4, "eval_every": 2},
        "eval": {"max_new_tokens": 4, "validation_subset": 4},
        "search": {"algorithm": "grid", "scheduler": "fifo", "num_samples": 1, "max_concurrent_trials": 2},
        "storage": {"path": str(tmp / "runs")},
        "wandb": {"mode": "offline", "project": "toolsweep-tests"},
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="session")
def analysis_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """RUN_DIR of a finished two-trial sweep, run with a fake WANDB_API_KEY in the environment.

    The key is set before Ray starts (when this is the first Ray user of the session) so that the trial
    workers see it too; explicit ``wandb.mode: offline`` keeps everything off the network.
    """
    from toolsweep.config import load_sweep

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WANDB_API_KEY", FAKE_KEY)
        patch.delenv("WANDB_DIR", raising=False)
        request.getfixturevalue("ray_local")
        from toolsweep.sweeps.driver import run_sweep

        tmp = tmp_path_factory.mktemp("analysis")
        summary = run_sweep(load_sweep(sweep_file(tmp, tiny_model_dir, "analysis")))
    assert summary.best_trial, summary
    return Path(summary.run_dir)


@pytest.fixture(scope="session")
def exported(analysis_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The winner exported (merged) with the CLI, with the fake key set as for the sweep."""
    from toolsweep.cli import main

    out = tmp_path_factory.mktemp("export") / "model"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WANDB_API_KEY", FAKE_KEY)
        assert main(["export", str(analysis_run), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def report_dir(analysis_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``toolsweep report RUN_DIR --out DIR --wandb`` output."""
    from toolsweep.cli import main

    out = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WANDB_API_KEY", FAKE_KEY)
        assert main(["report", str(analysis_run), "--out", str(out), "--wandb"]) == 0
    return out
