"""Shared fixtures: a tiny random model on disk and a local Ray instance, both built once per session."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Qwen2 (hidden 32) with the built-in hermes chat template, saved like a real model."""
    from toolsweep.evaluation.testing import build_tiny_lm

    model, tokenizer = build_tiny_lm(seed=0, hidden_size=32, num_layers=2)
    path = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray with 2 CPUs for the whole session (starting Ray costs seconds)."""
    import ray

    from toolsweep.sweeps.ray_runtime import ensure_ray

    ensure_ray(num_cpus=2)
    yield
    ray.shutdown()


def write_tiny_sweep(directory: Path, model_dir: Path, name: str, **overrides: dict[str, Any]) -> Path:
    """A sweep file for ``model_dir`` small enough that a trial takes seconds; ``overrides`` update sections."""
    spec: dict[str, Any] = {
        "name": name,
        "model": {"name": str(model_dir)},
        "data": {"train_examples": 24, "preference_pairs": 8, "validation_examples": 4, "test_examples": 4},
        "lora": {"r": 4},
        "sft": {"max_steps": 6, "batch_size": 4, "eval_every": 2, "learning_rate": 5e-3},
        "dpo": {"max_steps": 2, "batch_size": 4, "eval_every": 2},
        "eval": {"max_new_tokens": 4, "validation_subset": 4},
        "search": {"algorithm": "grid", "scheduler": "fifo", "num_samples": 1, "max_concurrent_trials": 2},
        "storage": {"path": str(directory / "runs")},
        # W&B's offline runs cost each trial process seconds; the analysis tests turn them on and check them.
        "wandb": {"mode": "disabled"},
    }
    for section, values in overrides.items():
        spec[section] = {**spec.get(section, {}), **values}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))  # the first test set listed is the headline
    return path
