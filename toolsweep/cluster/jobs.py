"""``toolsweep submit/status/logs``: a sweep as a Ray Job on a remote cluster, through the dashboard's Jobs API.

Why a Job rather than ``toolsweep run --address`` from a laptop: the sweep's driver then runs on the head
node, so it survives the laptop closing, and only the dashboard port (8265) has to be reachable. The job's
runtime environment carries the sweep file and the local files it names (its ``working_dir``, see
job_inputs.py) and toolsweep itself: by default the local source tree as a ``py_modules`` entry (the
cluster must have the dependencies, e.g. from the cluster config's setup commands), or ``pip`` specs
(``--pip toolsweep==0.1.0``), or nothing (``--installed``).
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from toolsweep.cluster.job_inputs import stage_sweep
from toolsweep.config.yaml_reader import dotted
from toolsweep.errors import UserError

__all__ = ["build_submission", "connect", "follow_logs", "job_status", "submit_sweep"]

# Settings every trial needs whatever the cluster's defaults are (see sweeps/ray_runtime.py).
_JOB_ENV = {"HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false", "RAY_AIR_NEW_OUTPUT": "0"}


def connect(address: str) -> Any:
    """A ``JobSubmissionClient`` for the dashboard at ``address``; errors say which address to give."""
    if not address:
        raise UserError("give the cluster's dashboard address: --address http://HEAD_IP:8265 (or set RAY_API_SERVER_ADDRESS)")
    if not address.startswith(("http://", "https://")):
        raise UserError(f"--address {address}: Ray Jobs go through the dashboard; give http://HEAD_IP:8265 "
                        "(with `ray up`, `ray dashboard CLUSTER.yaml` forwards it to http://127.0.0.1:8265)")
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # requests' ConnectionError, or Ray's auth errors
        raise UserError(f"cannot reach the Ray dashboard at {address} ({str(exc).splitlines()[0][:300]}); check the "
                        "address and port, and with token auth set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH to the head's token") from exc


def build_submission(
    sweep_path: str | Path,
    overrides: Sequence[str] = (),
    *,
    pip: Sequence[str] = (),
    installed: bool = False,
    staging: Path,
) -> dict[str, Any]:
    """The ``submit_job`` arguments: entrypoint and runtime_env, with the sweep file and the local files it
    names (data, evaluation sets, DeepSpeed JSON...) copied into ``staging`` and pointed at there."""
    from toolsweep.config import load_sweep

    sweep_path = Path(sweep_path)
    sweep = load_sweep(sweep_path, list(overrides))  # fail here, not minutes later on the cluster
    if pip and installed:
        raise UserError("give either --pip SPEC (install toolsweep in the job) or --installed (use the cluster's), not both")
    overrides, inputs = stage_sweep(sweep, sweep_path, overrides, staging)  # with the local files it names
    runtime_env: dict[str, Any] = {"working_dir": str(staging), "env_vars": dict(_JOB_ENV)}
    if pip:
        runtime_env["pip"] = list(pip)
    elif not installed:
        import toolsweep

        runtime_env["py_modules"] = [str(Path(toolsweep.__file__).parent)]
    sets = " ".join(f"--set {shlex.quote(item)}" for item in overrides)
    entrypoint = f"python -m toolsweep run {shlex.quote(sweep_path.name)} {sets}".strip()
    metadata = {"toolsweep_sweep": sweep.spec.name, "toolsweep_storage": sweep.spec.storage.path}
    if inputs:  # Ray job metadata values are strings
        metadata["toolsweep_inputs"] = "; ".join(f"{dotted(i.field)}={i.source} -> {i.shipped}" for i in inputs)
    return {"entrypoint": entrypoint, "runtime_env": runtime_env, "metadata": metadata}


def storage_warning(storage_path: str) -> str | None:
    """A relative storage path on a cluster lands in the job's temporary working directory and is lost."""
    if "://" in storage_path or Path(storage_path).expanduser().is_absolute():
        return None
    return (f"warning: storage.path {storage_path!r} is relative: on the cluster it is inside the job's temporary "
            "working directory; set it to a shared path (/mnt/efs/runs) or a URI (s3://BUCKET/runs) to keep results")


def submit_sweep(
    address: str,
    sweep_path: str | Path,
    overrides: Sequence[str] = (),
    *,
    pip: Sequence[str] = (),
    installed: bool = False,
    job_id: str | None = None,
    client: Any = None,
) -> str:
    """Submit the sweep as a Ray Job and return its id."""
    client = client or connect(address)
    with tempfile.TemporaryDirectory(prefix="toolsweep-job-") as staging:
        submission = build_submission(sweep_path, overrides, pip=pip, installed=installed, staging=Path(staging))
        warning = storage_warning(submission["metadata"]["toolsweep_storage"])
        if warning:
            print(warning, file=sys.stderr)
        if "toolsweep_inputs" in submission["metadata"]:
            print(f"sending with the job: {submission['metadata']['toolsweep_inputs']}", file=sys.stderr)
        return client.submit_job(submission_id=job_id, **submission)  # uploads working_dir before returning


def job_status(address: str, job_id: str, client: Any = None) -> dict[str, Any]:
    """Status, message and timing of a submitted sweep."""
    client = client or connect(address)
    try:
        info = client.get_job_info(job_id)
    except RuntimeError as exc:
        raise UserError(f"no job {job_id!r} at {address}: {str(exc).splitlines()[0][:200]}") from exc
    status = getattr(info.status, "value", str(info.status))
    return {"job_id": job_id, "status": status, "message": info.message, "entrypoint": info.entrypoint,
            "start_time": info.start_time, "end_time": info.end_time}


def follow_logs(address: str, job_id: str, *, follow: bool = False, out: TextIO | None = None, client: Any = None) -> None:
    """Print the job's logs (to stdout by default); with ``follow``, keep streaming until the job ends."""
    out = out or sys.stdout
    client = client or connect(address)
    job_status(address, job_id, client)  # a clear error for an unknown id
    if not follow:
        out.write(client.get_job_logs(job_id))
        return

    async def stream() -> None:
        async for chunk in client.tail_job_logs(job_id):
            out.write(chunk)
            out.flush()

    asyncio.run(stream())
