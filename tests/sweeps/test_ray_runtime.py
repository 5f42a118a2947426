"""The environment every Ray worker of a sweep gets (workers do not inherit the driver's)."""

from __future__ import annotations

from toolsweep.sweeps.ray_runtime import _runtime_env


def test_workers_get_the_drivers_offline_settings_and_quiet_defaults(monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")  # a user's choice wins over the default
    env = _runtime_env()["env_vars"]
    assert env["WANDB_MODE"] == "offline" and env["TOKENIZERS_PARALLELISM"] == "true"
    # Ray Train's print patch would log dill's captured bytecode listings from every DPO stage.
    assert env["RAY_TRAIN_ENABLE_PRINT_PATCH"] == "0"
    assert env["HF_HUB_DISABLE_TELEMETRY"] == "1" and env["TQDM_DISABLE"] == "1"
