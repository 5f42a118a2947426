"""Starting or attaching to Ray with the settings every toolsweep process needs.

Ray workers do not inherit the driver's environment variables or sys.path, so the offline, telemetry and
thread settings travel in the job's runtime environment. Usage stats stay off. An address (argument or
RAY_ADDRESS) attaches to a running cluster; otherwise a local Ray is started with the machine's CPUs.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["WORKER_ENV", "ensure_ray"]

WORKER_ENV = ("HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "WANDB_MODE", "WANDB_DIR", "TOKENIZERS_PARALLELISM")


def _runtime_env() -> dict[str, Any]:
    env = {name: os.environ[name] for name in WORKER_ENV if name in os.environ}
    env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Per-example progress bars from every worker drown the trial table; metrics are reported instead.
    env.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    env.setdefault("TQDM_DISABLE", "1")
    # Ray Train's workers re-route print() to its logger even while a library has swapped sys.stdout to
    # capture output: dill (hashing TRL's tokenize function for datasets) captures a bytecode listing that
    # way, and every DPO stage of a multi-worker trial printed hundreds of its lines. Plain stdout is kept.
    env.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    return {"env_vars": env}


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Initialise Ray once per process: attach to ``address``/RAY_ADDRESS, or start a local instance."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Inside a Ray Job (toolsweep submit) the job already has a runtime env; Ray refuses a second one
    # unless told to merge them.
    os.environ.setdefault("RAY_OVERRIDE_JOB_RUNTIME_ENV", "1")
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        from toolsweep.cluster.attach import attach

        attach(address, _runtime_env())  # checks the address kind; token-auth failures name the setting to change
    else:
        ray.init(num_cpus=num_cpus, runtime_env=_runtime_env(), include_dashboard=False, log_to_driver=True)
