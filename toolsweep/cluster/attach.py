"""Attaching a driver to a running Ray cluster (``toolsweep run --address`` or ``RAY_ADDRESS``).

Two addresses name a Ray cluster and users mix them up: the GCS address ``HEAD:6379`` (what a driver
attaches to, on a cluster node) and the dashboard ``http://HEAD:8265`` (what Ray Jobs are submitted to,
from anywhere). Ray 2.60 also turns token authentication on by default: a driver must present the head's
token (``~/.ray/auth_token``, ``RAY_AUTH_TOKEN_PATH`` or ``RAY_AUTH_TOKEN``) or attach fails with an error
that does not say which setting to change. And ``ray.init`` retries an address where nothing answers for
minutes (a head that is down, or the stale record of a ``ray start`` whose processes died, which
``--address auto`` reads). This module turns all three into messages that say what to do, the last one
within ``TOOLSWEEP_ATTACH_TIMEOUT_S`` seconds (default 15): before ``ray.init``, the GCS port must accept a
connection and answer the HTTP/2 handshake every gRPC server answers.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from toolsweep.errors import UserError

__all__ = ["attach", "attach_timeout", "check_address", "check_reachable"]

_AUTH_HELP = (
    "the cluster uses Ray token authentication: run with RAY_AUTH_MODE=token and the head's token in "
    "RAY_AUTH_TOKEN_PATH=FILE (or RAY_AUTH_TOKEN, or ~/.ray/auth_token; `ray get-auth-token` on the head prints it)"
)
_DEFAULT_TIMEOUT_S = 15.0


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


def attach_timeout() -> float:
    """Seconds to wait for a cluster to answer (``TOOLSWEEP_ATTACH_TIMEOUT_S``, default 15)."""
    raw = os.environ.get("TOOLSWEEP_ATTACH_TIMEOUT_S", "")
    try:
        value = float(raw) if raw.strip() else _DEFAULT_TIMEOUT_S
    except ValueError:
        raise UserError(f"TOOLSWEEP_ATTACH_TIMEOUT_S={raw!r} is not a number of seconds; unset it or give e.g. 30") from None
    return value if value > 0 else _DEFAULT_TIMEOUT_S


def _gcs_endpoint(address: str) -> tuple[str, int]:
    """(host, port) that ``ray.init(address)`` will connect to; ``auto`` is resolved as Ray resolves it
    (RAY_ADDRESS, then the record of the last ``ray start``, then a running GCS process)."""
    from ray._private import services

    if address.startswith("ray://"):  # Ray Client: the client server, not the GCS, but it must answer too
        target = address[len("ray://"):].split("/", 1)[0]
    else:
        try:
            target = services.canonicalize_bootstrap_address(address)
        except ConnectionError as exc:  # "auto" found nothing
            raise UserError(f"--address {address}: no running Ray cluster found on this machine ({_first_line(exc)}); "
                            "give the head's GCS address HEAD_IP:6379, or leave --address out for a local Ray") from exc
        except ValueError as exc:
            raise UserError(f"--address {address}: {_first_line(exc)}; give HEAD_IP:6379 or auto") from exc
        if target is None:
            raise UserError(f"--address {address}: no cluster to attach to; give HEAD_IP:6379, or leave it out for a local Ray")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address {address}: expected HOST:PORT (e.g. HEAD_IP:6379), got {target!r}")
    return host.strip("[]"), int(port)


def _unreachable(address: str, origin: str, endpoint: str, reason: str) -> UserError:
    came_from = {"RAY_ADDRESS": " (from RAY_ADDRESS)", "--address": ""}.get(origin, f" ({origin})")
    stale = ""
    if address.strip() == "auto" and not os.environ.get("RAY_ADDRESS"):
        from ray._common.utils import get_ray_address_file

        record = get_ray_address_file(None)
        if os.path.isfile(record):
            stale = (f"; `auto` read it from {record}, the record of the last `ray start` on this machine: "
                     "if that cluster is gone, delete the file or start a new head")
    return UserError(
        f"no Ray cluster answered at {address}{came_from}: GCS {endpoint} {reason}{stale}. Check it with "
        f"`ray status --address {endpoint}`; start one with `ray start --head` (or `ray up CLUSTER.yaml`) and "
        "pass its GCS address HEAD_IP:6379, or leave --address and RAY_ADDRESS unset to run on a local Ray"
    )


def check_reachable(address: str, *, origin: str = "--address", timeout: float | None = None) -> None:
    """Raise a ``UserError`` within ``timeout`` seconds unless a gRPC server answers at the cluster address.

    A TCP connect catches a dead head or stale record at once (refused) or after ``timeout`` (no route);
    the HTTP/2 handshake on the same connection catches a port held by something that does not serve
    gRPC. With Ray TLS on (RAY_USE_TLS) a plain-text handshake cannot succeed: only the connect is checked.
    """
    timeout = attach_timeout() if timeout is None else timeout
    host, port = _gcs_endpoint(address)
    endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        reason = "did not accept a connection" + (f" within {timeout:g} s" if isinstance(exc, TimeoutError) else
                                                 f" ({exc.strerror or type(exc).__name__})")
        raise _unreachable(address, origin, endpoint, reason) from exc
    with sock:
        if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true") or _speaks_http2(sock, deadline):
            return
    raise _unreachable(address, origin, endpoint,
                       f"accepted a connection but no gRPC (HTTP/2) server answered within {timeout:g} s")


# An HTTP/2 client's connection preface and an empty SETTINGS frame (RFC 9113, 3.4 and 6.5).
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_SETTINGS = 4


def _speaks_http2(sock: socket.socket, deadline: float) -> bool:
    """True if the server answers the HTTP/2 preface with a SETTINGS frame, as every gRPC server must.

    The handshake by hand, because Ray's minimal install has no grpcio; nothing past it is sent."""
    header = b""
    try:
        sock.sendall(_PREFACE)
        while len(header) < 9:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = sock.recv(9 - len(header))
            if not chunk:
                return False
            header += chunk
    except OSError:  # timed out, or reset
        return False
    return header[3] == _SETTINGS


def attach(address: str, runtime_env: dict[str, Any], *, origin: str = "--address") -> None:
    """``ray.init`` against an existing cluster; known failures become a ``UserError`` naming the fix.
    ``origin`` says where the address came from (``--address`` or ``RAY_ADDRESS``), for the messages."""
    import ray

    address = check_address(address)
    check_reachable(address, origin=origin)
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
            f"no Ray cluster answered at {address} ({_first_line(exc)}); check it with `ray status --address {address}`; "
            "start one (`ray start --head`, `ray up configs/cluster/aws-gpu.yaml`) and pass its GCS address "
            f"HEAD_IP:6379 (RAY_AUTH_MODE is {mode})"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
