"""How toolsweep starts or attaches to Ray: the environment every worker gets, a local Ray that starts its
own instance bound to loopback whatever cluster record the machine holds, and an attach that fails within
seconds, naming the address, when nothing answers there.

The local-Ray checks run in a subprocess with its own RAY_TMPDIR (a short path: Ray's socket paths must
fit AF_UNIX's 107 bytes), so the record it finds is one written here and no other Ray on this machine is
touched; the subprocess shuts down only the Ray it started."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolsweep.cluster.attach import check_reachable
from toolsweep.errors import UserError
from toolsweep.sweeps.ray_runtime import _runtime_env, ensure_ray


def test_workers_get_the_drivers_offline_settings_and_quiet_defaults(monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")  # a user's choice wins over the default
    env = _runtime_env()["env_vars"]
    assert env["WANDB_MODE"] == "offline" and env["TOKENIZERS_PARALLELISM"] == "true"
    # Ray Train's print patch would log dill's captured bytecode listings from every DPO stage.
    assert env["RAY_TRAIN_ENABLE_PRINT_PATCH"] == "0"
    assert env["HF_HUB_DISABLE_TELEMETRY"] == "1" and env["TQDM_DISABLE"] == "1"


def _dead_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def stale_record(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A Ray temp root whose ``ray_current_cluster`` names a GCS that died (as after a killed `ray start`)."""
    root = Path(tempfile.mkdtemp(prefix="tsr-", dir="/tmp"))
    (root / "ray").mkdir()
    (root / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{_dead_port()}")
    monkeypatch.setenv("RAY_TMPDIR", str(root))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # For "auto", Ray prefers a GCS process it finds running over the record, so any other Ray on the machine
    # (another test run, a user's own) would be attached to instead: this fixture is about the record alone.
    from ray._private import services

    monkeypatch.setattr(services, "find_gcs_addresses", list)
    yield root
    subprocess.run(["rm", "-rf", str(root)], check=False)


# Started as `toolsweep run` without --address starts it: ensure_ray(None). Then a task, so that a worker
# process exists too, and the listening sockets of every process of this Ray instance.
_LOCAL_RUN = textwrap.dedent("""
    import json, os, sys, time
    import psutil, ray
    from toolsweep.sweeps.ray_runtime import ensure_ray, local_node_ip

    def worker_pid():
        return os.getpid()

    started = time.monotonic()
    ensure_ray(None)
    elapsed = time.monotonic() - started
    from toolsweep.cluster.attach import check_reachable
    try:  # the attach check must pass against a real, live GCS
        check_reachable(ray._private.worker._global_node.gcs_address, timeout=20)
        gcs_check = "ok"
    except Exception as exc:
        gcs_check = str(exc)
    worker_pid = ray.get(ray.remote(num_cpus=0)(worker_pid).remote())
    time.sleep(1)
    me = psutil.Process()
    procs = {p.pid: p for p in me.children(recursive=True)}
    procs[me.pid], procs[worker_pid] = me, psutil.Process(worker_pid)
    root = os.environ["RAY_TMPDIR"]
    for proc in psutil.process_iter(["cmdline"]):  # any Ray process of ours that left the process tree
        if root in " ".join(proc.info["cmdline"] or ()):
            procs.setdefault(proc.pid, proc)
    listeners, denied = [], []
    for pid, proc in procs.items():
        try:
            conns = proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        except psutil.AccessDenied:
            denied.append(pid)
            continue
        listeners += [[pid, proc.name(), c.laddr.ip, c.laddr.port] for c in conns if c.status == psutil.CONN_LISTEN]
    print("RESULT " + json.dumps({"elapsed": elapsed, "node_ip": local_node_ip(), "listeners": listeners,
                                  "denied": denied, "gcs_check": gcs_check, "cluster_switch": os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}))
    ray.shutdown()
""")


@pytest.fixture(scope="module")
def local_run() -> dict:
    """What a local run reports about the Ray it started, with a stale cluster record on the machine."""
    pytest.importorskip("psutil")
    root = Path(tempfile.mkdtemp(prefix="tsr-", dir="/tmp"))
    (root / "ray").mkdir()
    (root / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{_dead_port()}")
    env = {**os.environ, "RAY_TMPDIR": str(root), "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    try:
        result = subprocess.run([sys.executable, "-c", _LOCAL_RUN], check=False, env=env, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"a local run with a stale cluster record in {root} did not start its own Ray within 240 s "
                    f"(it is retrying the dead address): {str(exc.stderr)[-1500:]}")
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_a_local_run_starts_its_own_ray_despite_a_stale_cluster_record(local_run: dict) -> None:
    # Before: ray.init() attached to the record's dead GCS and retried it for minutes.
    assert local_run["elapsed"] < 120
    assert local_run["node_ip"] == "127.0.0.1"
    assert local_run["cluster_switch"] is None  # the driver's environment is restored after the start


def test_the_attach_check_accepts_a_live_gcs(local_run: dict) -> None:
    assert local_run["gcs_check"] == "ok"


def _is_loopback(ip: str) -> bool:
    import ipaddress

    address = ipaddress.ip_address(ip.split("%", 1)[0])
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def test_local_ray_listens_on_loopback_only(local_run: dict) -> None:
    if local_run["denied"] and not local_run["listeners"]:
        pytest.skip(f"psutil may not read the sockets of processes {local_run['denied']} here")
    names = {name for _, name, _, _ in local_run["listeners"]}
    assert any("gcs_server" in name for name in names), f"the GCS listener was not seen: {local_run['listeners']}"
    exposed = [entry for entry in local_run["listeners"] if not _is_loopback(entry[2])]
    assert not exposed, f"listening beyond loopback (pid, process, address, port): {exposed}"


def test_auto_with_a_stale_record_fails_fast_naming_the_address_and_the_record(stale_record: Path) -> None:
    started = time.monotonic()
    with pytest.raises(UserError) as caught:
        check_reachable("auto", timeout=5)
    message = str(caught.value)
    assert time.monotonic() - started < 10
    assert "no Ray cluster answered at auto" in message and "ray status --address" in message
    assert str(stale_record / "ray" / "ray_current_cluster") in message and "delete the file" in message


def test_a_dead_ray_address_fails_fast_and_says_it_came_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    port = _dead_port()
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.2:{port}")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # the check runs before ray.init is reached
    monkeypatch.setattr(ray, "init", lambda *a, **k: pytest.fail("ray.init must not be reached"))
    started = time.monotonic()
    with pytest.raises(UserError, match=rf"127\.0\.0\.2:{port} \(from RAY_ADDRESS\).*refused.*ray status --address 127\.0\.0\.2:{port}"):
        ensure_ray(None)
    assert time.monotonic() - started < 10


def test_a_port_that_accepts_but_never_speaks_grpc_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLSWEEP_ATTACH_TIMEOUT_S", "1")
    with socket.socket() as silent:
        silent.bind(("127.0.0.2", 0))
        silent.listen(4)  # the kernel completes TCP handshakes; nobody ever answers
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(UserError, match=r"accepted a connection but no gRPC \(HTTP/2\) server answered within 1 s"):
            check_reachable(f"127.0.0.2:{port}")
        assert time.monotonic() - started < 5


def test_local_means_a_new_local_ray_not_an_attach(monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    calls: list[dict] = []
    monkeypatch.setenv("RAY_ADDRESS", "local")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append(kwargs))
    ensure_ray(None, num_cpus=1)
    assert calls and calls[0]["address"] == "local" and calls[0]["num_cpus"] == 1
    assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER" not in os.environ
