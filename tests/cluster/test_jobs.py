"""``toolsweep submit/status/logs`` against a stand-in for Ray's JobSubmissionClient (the dashboard's Jobs API
needs ``ray[default]``, which the test environment does not install): what is submitted, and the errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from toolsweep.cli import main
from toolsweep.cluster import jobs
from toolsweep.errors import UserError

ROOT = Path(__file__).parents[2]
SWEEP = ROOT / "configs" / "cluster" / "gpu_qwen.yaml"


class FakeClient:
    """Records ``submit_job``; the staged working_dir is read while it still exists, as Ray uploads it then."""

    def __init__(self) -> None:
        self.submitted: dict[str, Any] = {}
        self.staged: list[str] = []

    def submit_job(self, **kwargs: Any) -> str:
        self.submitted = kwargs
        self.staged = sorted(p.name for p in Path(kwargs["runtime_env"]["working_dir"]).iterdir())
        return kwargs.get("submission_id") or "raysubmit_123"

    def get_job_info(self, job_id: str) -> Any:
        if job_id != "raysubmit_123":
            raise RuntimeError(f"Job {job_id} does not exist")
        return type("Info", (), {"status": "RUNNING", "message": "running", "entrypoint": "x", "start_time": 1, "end_time": None})

    def get_job_logs(self, job_id: str) -> str:
        return "trial 1 done\n"

    async def tail_job_logs(self, job_id: str) -> Any:
        for chunk in ("a\n", "b\n"):
            yield chunk


def test_submit_ships_the_sweep_file_and_this_toolsweep_and_runs_toolsweep_run() -> None:
    client = FakeClient()
    job = jobs.submit_sweep("http://127.0.0.2:8265", SWEEP, ["search.num_samples=4"], client=client)
    assert job == "raysubmit_123"
    sent = client.submitted
    assert sent["entrypoint"] == "python -m toolsweep run gpu_qwen.yaml --set search.num_samples=4"
    assert client.staged == ["gpu_qwen.yaml"]
    env = sent["runtime_env"]
    assert Path(env["py_modules"][0]).name == "toolsweep" and "pip" not in env
    assert env["env_vars"]["HF_HUB_DISABLE_TELEMETRY"] == "1"
    assert sent["metadata"]["toolsweep_sweep"] == "gpu-qwen05b"


def test_submit_can_pip_install_or_use_the_cluster_install() -> None:
    client = FakeClient()
    jobs.submit_sweep("http://h:8265", SWEEP, pip=["toolsweep==0.1.0"], client=client, job_id="mine")
    assert client.submitted["runtime_env"]["pip"] == ["toolsweep==0.1.0"] and "py_modules" not in client.submitted["runtime_env"]
    assert client.submitted["submission_id"] == "mine"
    jobs.submit_sweep("http://h:8265", SWEEP, installed=True, client=client)
    assert "pip" not in client.submitted["runtime_env"] and "py_modules" not in client.submitted["runtime_env"]
    with pytest.raises(UserError, match="either --pip"):
        jobs.submit_sweep("http://h:8265", SWEEP, pip=["x"], installed=True, client=client)


def test_submit_checks_the_sweep_before_sending_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("lora: {r: -1}\n")
    with pytest.raises(UserError):
        jobs.submit_sweep("http://h:8265", bad, client=FakeClient())


def test_a_relative_storage_path_is_warned_about(capsys: pytest.CaptureFixture[str]) -> None:
    jobs.submit_sweep("http://h:8265", ROOT / "configs" / "quickstart.yaml", client=FakeClient())
    assert "storage.path './toolsweep_runs' is relative" in capsys.readouterr().err
    assert jobs.storage_warning("s3://b/runs") is None and jobs.storage_warning("/mnt/efs/runs") is None


def test_status_and_logs(capsys: pytest.CaptureFixture[str]) -> None:
    client = FakeClient()
    assert jobs.job_status("http://h:8265", "raysubmit_123", client)["status"] == "RUNNING"
    with pytest.raises(UserError, match="no job 'nope'"):
        jobs.job_status("http://h:8265", "nope", client)
    jobs.follow_logs("http://h:8265", "raysubmit_123", client=client, out=sys.stdout)
    jobs.follow_logs("http://h:8265", "raysubmit_123", follow=True, client=client, out=sys.stdout)
    assert capsys.readouterr().out == "trial 1 done\na\nb\n"


def test_cli_verbs_parse_and_call_the_library(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    client = FakeClient()
    monkeypatch.setattr(jobs, "connect", lambda address: client)
    assert main(["submit", str(SWEEP), "--address", "http://h:8265", "--set", "seed=3"]) == 0
    assert capsys.readouterr().out.strip() == "raysubmit_123"
    assert client.submitted["entrypoint"].endswith("--set seed=3")
    assert main(["status", "raysubmit_123", "--address", "http://h:8265"]) == 0
    assert "RUNNING" in capsys.readouterr().out
    assert main(["logs", "raysubmit_123", "--address", "http://h:8265", "--follow"]) == 0
    assert capsys.readouterr().out == "a\nb\n"


def test_addresses_of_the_wrong_kind_say_which_one_to_use(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(SWEEP), "--address", "10.0.0.1:6379"]) == 2
    assert "http://HEAD_IP:8265" in capsys.readouterr().err
    assert main(["run", str(SWEEP), "--address", "http://10.0.0.1:8265"]) == 2
    assert "toolsweep submit" in capsys.readouterr().err
