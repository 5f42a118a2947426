"""Attaching a driver to a running Ray cluster (``toolsweep run --address`` or ``RAY_ADDRESS``).

Two addresses name a Ray cluster and users mix them up: the GCS address ``HEAD:6379`` (what a driver
attaches to, on a cluster node) and the dashboard ``http://HEAD:8265`` (what Ray Jobs are submitted to,
from anywhere). Ray 2.60 also turns token authentication on by default: a driver must present the head's
token (``~/.ray/auth_token``, ``RAY_AUTH_TOKEN_PATH`` or ``RAY_AUTH_TOKEN``) or attach fails with an error
that does not say which setting to change. This module turns both mistakes into messages that do.
"""

from __future__ import annotations

import os
from typing import Any

from toolsweep.errors import UserError

__all__ = ["attach", "check_address"]

_AUTH_HELP = (
    "the cluster uses Ray token authentication: run with RAY_AUTH_MODE=token and the head's token in "
    "RAY_AUTH_TOKEN_PATH=FILE (or RAY_AUTH_TOKEN, or ~/.ray/auth_token; `ray get-auth-token` on the head prints it)"
)


def check_address(address: str) -> str:
    """The address to give ``ray.init``; an http(s) dashboard address is refused with what to use instead."""
    address = address.strip()
    if address.startswith(("http://", "https://")):
        raise UserError(
            f"--address {address}: that is the Ray dashboard (Jobs API) address; to run the sweep on the cluster "
            f"from here use `toolsweep submit SWEEP.yaml --address {address}`, or on a cluster node give "
            "`toolsweep run --address HEAD_IP:6379` (the GCS address) or `--address auto`"
        )
    if not address:
        raise UserError("--address is empty; give HEAD_IP:6379, auto, or leave it out for a local Ray")
    return address


def attach(address: str, runtime_env: dict[str, Any]) -> None:
    """``ray.init`` against an existing cluster; known failures become a ``UserError`` naming the fix."""
    import ray

    address = check_address(address)
    try:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=True)
    except ray.exceptions.AuthenticationError as exc:
        raise UserError(f"cannot attach to Ray at {address}: {_AUTH_HELP} ({_first_line(exc)})") from exc
    except ConnectionError as exc:
        text = str(exc)
        if "auth" in text.lower() or "token" in text.lower():
            raise UserError(f"cannot attach to Ray at {address}: {_AUTH_HELP} ({_first_line(exc)})") from exc
        mode = os.environ.get("RAY_AUTH_MODE", "unset")
        raise UserError(
            f"no Ray cluster answered at {address} ({_first_line(exc)}); start one (`ray start --head`, "
            f"`ray up configs/cluster/aws-gpu.yaml`) and pass its GCS address HEAD_IP:6379 (RAY_AUTH_MODE is {mode})"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
