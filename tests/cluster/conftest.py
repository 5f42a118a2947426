"""A two-node Ray cluster on one machine: a head on 127.0.0.2 and a worker on 127.0.0.3, both started with
``ray start --block`` in their own process group and temp dir, with token authentication on (our own token
file, never ~/.ray) and every port explicit. Teardown kills each node's process group by PID and checks that
no Ray process whose command line names our temp dirs survives. Nothing here runs ``ray stop``: other
sessions' Ray instances on this machine must not be touched."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"
# Node death is detected by GCS health checks (default ~30 s); a dead node must be seen within ~2 s here.
FAST_HEALTH_CHECKS = {"RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "500",
                      "RAY_health_check_failure_threshold": "3", "RAY_health_check_initial_delay_ms": "0"}


def _free_port() -> int:
    with socket.socket() as sock:  # Ray binds all interfaces: the port must be free everywhere
        sock.bind(("", 0))
        return sock.getsockname()[1]


def _ports(dashboard: bool) -> list[str]:
    ports = ["--node-manager-port", _free_port(), "--object-manager-port", _free_port(),
             "--min-worker-port", _free_port(), "--max-worker-port", 0, "--metrics-export-port", _free_port(),
             "--dashboard-agent-listen-port", _free_port(), "--dashboard-agent-grpc-port", _free_port(),
             "--runtime-env-agent-port", _free_port()]
    if dashboard:
        ports += ["--dashboard-port", _free_port()]
    return [str(p) for p in ports]


def _stat(pid: str) -> tuple[int, int] | None:
    """(parent pid, process group) of a process, or None if it is gone."""
    try:
        fields = (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1]), int(fields[2])
    except (OSError, IndexError, ValueError):
        return None


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        info = _stat(proc.name) if proc.name.isdigit() else None
        if info:
            children.setdefault(info[0], []).append(int(proc.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


# The `ray` launcher of the interpreter running the tests, so an unactivated virtualenv works too.
_VENV_RAY = Path(sys.executable).with_name("ray")
RAY_CLI = str(_VENV_RAY) if _VENV_RAY.exists() else "ray"


@dataclass
class LoopbackCluster:
    root: Path
    env: dict[str, str]
    gcs_port: int = field(default_factory=_free_port)
    nodes: dict[str, subprocess.Popen] = field(default_factory=dict)
    groups: set[int] = field(default_factory=set)  # process groups of every node ever started

    @property
    def address(self) -> str:
        return f"{HEAD_IP}:{self.gcs_port}"

    def start_head(self) -> None:
        command = [RAY_CLI, "start", "--block", "--head", f"--node-ip-address={HEAD_IP}", f"--port={self.gcs_port}",
                   "--num-cpus=1", f"--temp-dir={self.root / 'head'}", "--include-dashboard=false",
                   f"--dashboard-host={HEAD_IP}", "--disable-usage-stats", *_ports(dashboard=True)]
        self._start("head", command, {**self.env, **FAST_HEALTH_CHECKS, "TOOLSWEEP_SCRATCH": str(self.root / "scratch-head")})

    def start_worker(self) -> None:
        command = [RAY_CLI, "start", "--block", f"--address={self.address}", f"--node-ip-address={WORKER_IP}",
                   "--num-cpus=1", f"--temp-dir={self.root / 'worker'}", "--disable-usage-stats", *_ports(dashboard=False)]
        self._start("worker", command, {**self.env, "TOOLSWEEP_SCRATCH": str(self.root / "scratch-worker")})

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = (self.root / f"{name}.log").open("w")
        self.nodes[name] = subprocess.Popen(command, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
        self.groups.add(self.nodes[name].pid)

    def alive_nodes(self) -> int:
        with socket.socket() as sock:  # ray.init retries for minutes against a GCS that is not listening yet
            sock.settimeout(1)
            if sock.connect_ex((HEAD_IP, self.gcs_port)) != 0:
                return 0
        code = (f"import ray; ray.init(address={self.address!r}, logging_level='ERROR'); "
                "print(sum(n['Alive'] for n in ray.nodes()))")
        try:
            result = subprocess.run([sys.executable, "-c", code], check=False, env=self.env, capture_output=True, text=True,
                                    timeout=30)
        except subprocess.TimeoutExpired:
            return 0
        return int(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 and result.stdout.strip() else 0

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, node in self.nodes.items():
                if node.poll() is not None:
                    raise RuntimeError(f"ray {name} exited: {(self.root / f'{name}.log').read_text()[-2000:]}")
            if self.alive_nodes() >= count:
                return
            time.sleep(0.5)
        raise TimeoutError(f"{count} Ray nodes not alive after {timeout} s")

    def kill(self, name: str) -> None:
        """SIGKILL everything of a node at once (its process group and every descendant: Ray's worker
        processes start sessions of their own), as when a machine is lost without warning."""
        node = self.nodes.pop(name, None)
        if node is None:
            return
        for pid in _descendants(node.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(node.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        node.wait()

    def leftovers(self) -> list[str]:
        """Processes still running that name this cluster's temp dirs or belong to a node's process group
        (Ray renames worker processes to ``ray::...``, so the command line alone does not find them)."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            info = _stat(proc.name)
            if info is None:
                continue
            if info[1] in self.groups or (str(self.root) in cmdline and "pytest" not in cmdline):
                found.append(f"{proc.name}: {cmdline[:160]}")
        return found


@pytest.fixture
def loopback_cluster() -> Iterator[LoopbackCluster]:
    """A head and a worker node, one CPU each, token auth with a token file of this test's own."""
    # Short, because Ray's socket paths under the temp dir must fit AF_UNIX's 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="tsray-", dir="/tmp"))
    token = root / "auth_token"
    token.write_text(secrets.token_hex(32))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
           "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "WANDB_MODE": "disabled",
           "TOOLSWEEP_SCRATCH": str(root / "scratch-driver")}  # each node has its own (set in start_*)
    env.pop("RAY_ADDRESS", None)
    cluster = LoopbackCluster(root=root, env=env)
    try:
        cluster.start_head()
        cluster.wait_for(1)
        cluster.start_worker()
        cluster.wait_for(2)
        yield cluster
    finally:
        for name in list(cluster.nodes):
            cluster.kill(name)
        deadline = time.monotonic() + 10
        while cluster.leftovers() and time.monotonic() < deadline:
            time.sleep(0.5)
        leftovers = cluster.leftovers()
        for line in leftovers:  # orphans (e.g. agents that left the group): stop them by PID, then fail
            try:
                os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not leftovers:
            shutil.rmtree(root, ignore_errors=True)
        assert not leftovers, "Ray processes survived teardown:\n" + "\n".join(leftovers)
