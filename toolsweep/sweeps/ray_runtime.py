"""Starting or attaching to Ray with the settings every toolsweep process needs.

Ray workers do not inherit the driver's environment variables or sys.path, so the offline, telemetry and
thread settings travel in the job's runtime environment. Usage stats stay off.

An address (argument or RAY_ADDRESS) attaches to a running cluster (``toolsweep.cluster.attach``, which
fails within seconds when nothing answers there). Otherwise a new local Ray is started, always: a bare
``ray.init()`` would attach to whatever ``/tmp/ray/ray_current_cluster`` names, the record of the last
``ray start`` on this machine, and when that cluster has died it retries the dead address for minutes
(or refuses ``num_cpus``, as it does for any existing cluster). The local Ray listens on loopback only:
by default Ray's GCS, raylet and every worker bind all interfaces, which exposes an unauthenticated-by-
default control plane to the network for a run that never needs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["WORKER_ENV", "ensure_ray", "local_node_ip"]

WORKER_ENV = ("HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "WANDB_MODE", "WANDB_DIR", "TOKENIZERS_PARALLELISM")
# Ray's switch for "this machine is not part of a cluster": with it off, a new node takes the loopback
# address as its IP, and Ray's gRPC servers (GCS, raylet, workers) then bind 127.0.0.1 instead of all
# interfaces. ``ray.init(_node_ip_address="127.0.0.1")`` does not do this: Ray replaces a loopback
# address with the machine's routable one before starting the node.
_CLUSTER_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_LOOPBACK = "127.0.0.1"


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


@contextmanager
def _loopback_node() -> Iterator[None]:
    """While a local node starts: its IP is 127.0.0.1, so every Ray process of it listens on loopback only.

    The processes started meanwhile (GCS, raylet, agents, and the workers the raylet forks later) inherit
    the setting; the driver's own environment and Ray's module flag are restored afterwards, so that a
    later attach to a real cluster from this process is not pinned to loopback.
    """
    from ray._private import ray_constants

    saved_env, saved_flag = os.environ.get(_CLUSTER_SWITCH), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[_CLUSTER_SWITCH] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False  # read when the node picks its IP; the env var only at import
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_env is None:
            os.environ.pop(_CLUSTER_SWITCH, None)
        else:
            os.environ[_CLUSTER_SWITCH] = saved_env


def local_node_ip() -> str | None:
    """The IP of the node this process started or attached to (None before ``ensure_ray``)."""
    from ray._private import worker

    node = worker._global_node
    return node.node_ip_address if node is not None else None


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Initialise Ray once per process: attach to ``address``/RAY_ADDRESS, or start a new local instance
    bound to loopback (never the cluster a stale ``ray start`` record names)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Inside a Ray Job (toolsweep submit) the job already has a runtime env; Ray refuses a second one
    # unless told to merge them.
    os.environ.setdefault("RAY_OVERRIDE_JOB_RUNTIME_ENV", "1")
    import ray

    if ray.is_initialized():
        return
    origin = "--address"
    if not address and os.environ.get("RAY_ADDRESS", "").strip():
        address, origin = os.environ["RAY_ADDRESS"], "RAY_ADDRESS"
    if address and address.strip() != "local":
        from toolsweep.cluster.attach import attach

        # Checks the address kind and that something answers there; token-auth failures name the setting.
        attach(address, _runtime_env(), origin=origin)
        return
    with _loopback_node():
        # address="local": a new instance even when RAY_ADDRESS is unset and a cluster record exists.
        ray.init(address="local", num_cpus=num_cpus, runtime_env=_runtime_env(), include_dashboard=False,
                 dashboard_host=_LOOPBACK, log_to_driver=True)
