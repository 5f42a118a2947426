"""``toolsweep submit`` sends the local files a sweep file names with the job and points the submitted sweep
at the copies, so the job's own validation on the cluster (where the originals do not exist) passes. No
cluster: a stand-in for JobSubmissionClient keeps a copy of the working_dir Ray would upload, and the job's
side is simulated by loading the submitted sweep inside that copy after the originals are gone."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from toolsweep.cluster import job_inputs, jobs
from toolsweep.config import load_sweep
from toolsweep.errors import UserError


class UploadingClient:
    """Records ``submit_job`` and copies its working_dir, as Ray uploads it before returning."""

    def __init__(self, upload_to: Path) -> None:
        self.upload_to = upload_to
        self.submitted: dict[str, Any] = {}

    def submit_job(self, **kwargs: Any) -> str:
        self.submitted = kwargs
        shutil.copytree(kwargs["runtime_env"]["working_dir"], self.upload_to)
        return "raysubmit_1"


@pytest.fixture
def laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with data files named by relative paths, the way a user runs from it."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    for name in ("train.jsonl", "test.jsonl", "extra.jsonl", "prefs.jsonl", "w2c.jsonl"):
        (project / "data" / name).write_text(f'{{"file": "{name}"}}\n')
    (project / "ds.json").write_text('{"zero_optimization": {"stage": 2}}')
    (project / "sweep.yaml").write_text(
        "# my sweep\nname: shipped\nmodel: {name: 'builtin:tiny-tool-lm'}\n"
        "data:\n"
        "  sources:\n    mine: {path: data/train.jsonl}\n    again: {path: ./data/train.jsonl, weight: 0.5}\n"
        "  test:\n    mine: {path: data/test.jsonl}\n"
        "  preferences: {path: data/prefs.jsonl}\n"
        "eval: {when2call: data/w2c.jsonl}\n"
        "resources: {workers: 2, deepspeed: ds.json}\n"
        "storage: {path: /mnt/shared/runs}\n")
    monkeypatch.chdir(project)
    return project


def _on_the_cluster(client: UploadingClient, laptop: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The job's `toolsweep run` validation, in the uploaded working_dir, with the laptop's files gone."""
    shutil.rmtree(laptop)
    monkeypatch.chdir(client.upload_to)
    argv = shlex.split(client.submitted["entrypoint"])
    assert argv[:4] == ["python", "-m", "toolsweep", "run"]
    overrides = [argv[i + 1] for i, word in enumerate(argv) if word == "--set"]
    return load_sweep(argv[4], overrides).spec


def test_the_files_a_sweep_names_travel_with_the_job_and_the_job_finds_them(
        laptop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    client = UploadingClient(tmp_path / "uploaded")
    jobs.submit_sweep("http://h:8265", "sweep.yaml", client=client)
    shipped = sorted(p.name for p in (client.upload_to / job_inputs.INPUTS_DIR).iterdir())
    assert shipped == ["0-train.jsonl", "1-test.jsonl", "2-prefs.jsonl", "3-w2c.jsonl", "4-ds.json"]  # train once
    assert "data.sources.mine.path=" in client.submitted["metadata"]["toolsweep_inputs"]
    assert "sending with the job: data.sources.mine.path=" in capsys.readouterr().err
    staged_text = (client.upload_to / "sweep.yaml").read_text()
    assert staged_text.startswith("# sweep.yaml as sent by toolsweep submit")
    spec = _on_the_cluster(client, laptop, monkeypatch)
    inputs = client.upload_to.resolve() / job_inputs.INPUTS_DIR
    assert spec.data.sources["mine"].path == spec.data.sources["again"].path == str(inputs / "0-train.jsonl")
    assert spec.data.sources["again"].weight == 0.5  # everything else as written
    assert spec.data.test["mine"].path == str(inputs / "1-test.jsonl")
    assert spec.data.preferences.path == str(inputs / "2-prefs.jsonl")
    assert spec.eval.when2call == str(inputs / "3-w2c.jsonl")
    assert spec.resources.deepspeed == str(inputs / "4-ds.json") and spec.storage.path == "/mnt/shared/runs"
    assert Path(spec.data.test["mine"].path).read_text() == '{"file": "test.jsonl"}\n'


def test_files_named_by_set_overrides_travel_too(laptop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = UploadingClient(tmp_path / "uploaded")
    overrides = ["data.preferences.path=data/extra.jsonl", "data.test={held: {path: data/extra.jsonl}, b: {builtin: test}}",
                 "seed=3"]
    jobs.submit_sweep("http://h:8265", laptop / "sweep.yaml", overrides, client=client)
    spec = _on_the_cluster(client, laptop, monkeypatch)
    extra = next(p for p in (client.upload_to / job_inputs.INPUTS_DIR).iterdir() if p.name.endswith("-extra.jsonl"))
    assert spec.data.preferences.path == spec.data.test["held"].path == str(extra.resolve())
    assert list(spec.data.test) == ["held", "b"] and spec.seed == 3


def test_a_sweep_without_local_files_is_sent_byte_for_byte(tmp_path: Path) -> None:
    client = UploadingClient(tmp_path / "uploaded")
    sweep = Path(__file__).parents[2] / "configs" / "cluster" / "gpu_qwen.yaml"
    jobs.submit_sweep("http://h:8265", sweep, client=client)
    assert sorted(p.name for p in client.upload_to.iterdir()) == ["gpu_qwen.yaml"]
    assert (client.upload_to / "gpu_qwen.yaml").read_bytes() == sweep.read_bytes()
    assert "toolsweep_inputs" not in client.submitted["metadata"]


def test_a_searched_file_is_refused_with_what_to_do(laptop: Path, tmp_path: Path) -> None:
    text = (laptop / "sweep.yaml").read_text().replace("{path: data/train.jsonl}",
                                                       "{path: {choice: [data/train.jsonl, data/extra.jsonl]}}")
    (laptop / "sweep.yaml").write_text(text)
    client = UploadingClient(tmp_path / "uploaded")
    with pytest.raises(UserError, match=r"these are searched.*data\.sources\.mine\.path.*fixed value.*--address auto"):
        jobs.submit_sweep("http://h:8265", "sweep.yaml", client=client)
    assert client.submitted == {}


def test_files_too_large_for_a_job_are_refused_listing_each(laptop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_inputs, "_limit", lambda: 64)
    client = UploadingClient(tmp_path / "uploaded")
    with pytest.raises(UserError) as caught:
        jobs.submit_sweep("http://h:8265", "sweep.yaml", client=client)
    message = str(caught.value)
    assert "more than a Ray Job can carry" in message and "eval.when2call: " in message
    assert f"resources.deepspeed: {laptop / 'ds.json'}" in message and "hub data sets" in message
    assert client.submitted == {}


def test_the_staged_sweep_keeps_search_expressions(laptop: Path, tmp_path: Path) -> None:
    text = (laptop / "sweep.yaml").read_text() + "lora: {r: {choice: [4, 8]}}\n"
    (laptop / "sweep.yaml").write_text(text)
    client = UploadingClient(tmp_path / "uploaded")
    jobs.submit_sweep("http://h:8265", "sweep.yaml", client=client)
    staged = yaml.safe_load((client.upload_to / "sweep.yaml").read_text())
    assert staged["lora"] == {"r": {"choice": [4, 8]}}
    assert staged["data"]["sources"]["mine"]["path"] == f"{job_inputs.INPUTS_DIR}/0-train.jsonl"
