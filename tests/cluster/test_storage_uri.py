"""Run storage at an object-store URI, exercised through pyarrow's local filesystem (``file://``): atomic
small files, trial workspaces pushed and pulled between two "nodes" (two scratch dirs), and the SFT stage
cache published once and fetched by another node. No Ray, no training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolsweep.cluster.storage import RunStorage, open_run_storage
from toolsweep.cluster.workspace import (
    TrialWorkspace,
    mirror_trial_records,
    publish_run_files,
    shared_sft_stage,
)
from toolsweep.config.schema import SweepSpec
from toolsweep.errors import UserError


@pytest.fixture
def store(tmp_path: Path) -> RunStorage:
    return open_run_storage(f"file://{tmp_path / 'bucket'}", "run")


def _node(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> None:
    monkeypatch.setenv("TOOLSWEEP_SCRATCH", str(tmp_path / f"scratch-{name}"))


def test_paths_and_uris_open_as_the_right_kind(tmp_path: Path) -> None:
    local = open_run_storage(str(tmp_path / "runs"), "a")
    assert local.is_local and local.local_dir == (tmp_path / "runs" / "a").resolve() and local.uri == str(local.local_dir)
    remote = open_run_storage(f"file://{tmp_path}/bucket/", "a")
    assert not remote.is_local and remote.uri == f"file://{tmp_path}/bucket/a"
    assert remote.join("tune") == f"file://{tmp_path}/bucket/a/tune"
    with pytest.raises(UserError, match="unknown scheme 'ftp'"):
        open_run_storage("ftp://host/runs", "a")


def test_small_files_are_written_whole(store: RunStorage, tmp_path: Path) -> None:
    store.write_text("stage_cache/x.json", '{"a": 1}')
    store.write_text("stage_cache/x.json", '{"a": 2}')
    assert json.loads(store.read_text("stage_cache/x.json")) == {"a": 2}
    assert [p.name for p in (tmp_path / "bucket" / "run" / "stage_cache").iterdir()] == ["x.json"]  # no temp left


def test_a_trial_retried_on_another_node_continues_from_its_last_complete_checkpoint(
        store: RunStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _node(monkeypatch, tmp_path, "a")
    first = TrialWorkspace(store, "t1")
    for step in (3, 6):
        (first.local_dir / "sft" / f"checkpoint-{step}").mkdir(parents=True)
        (first.local_dir / "sft" / f"checkpoint-{step}" / "adapter.bin").write_bytes(b"w" * step)
        (first.local_dir / "sft" / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (first.local_dir / "attempts.jsonl").write_text('{"node_ip": "a"}\n')
    first.push()
    # Node a dies while uploading checkpoint-9: its weights arrived, its trainer_state.json did not.
    (Path(store.fs_path) / "trials" / "t1" / "sft" / "checkpoint-9").mkdir()
    (Path(store.fs_path) / "trials" / "t1" / "sft" / "checkpoint-9" / "adapter.bin").write_bytes(b"partial")

    _node(monkeypatch, tmp_path, "b")
    second = TrialWorkspace(store, "t1")
    assert second.local_dir != first.local_dir
    assert second.pull()
    assert sorted(p.name for p in (second.local_dir / "sft").iterdir()) == ["checkpoint-3", "checkpoint-6"]
    assert not second.pull()  # nothing newer than what this node has


def test_an_sft_stage_is_published_once_and_fetched_by_another_node(
        store: RunStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SweepSpec()
    _node(monkeypatch, tmp_path, "a")
    stage_a, lock_a = shared_sft_stage(store, spec)
    with lock_a(stage_a):
        assert not (stage_a / "stage.json").exists()  # nothing published yet: this trial trains
        (stage_a / "final").mkdir(parents=True)
        (stage_a / "final" / "adapter_model.safetensors").write_bytes(b"weights")
        (stage_a / "checkpoint-6").mkdir()
        (stage_a / "stage.json").write_text(json.dumps({"name": "sft", "model_dir": str(stage_a / "final"), "steps": 6}))
    markers = list((Path(store.fs_path) / "stage_cache").glob("sft-*.json"))
    assert [m.stem for m in markers] == [stage_a.name]

    _node(monkeypatch, tmp_path, "b")
    stage_b, lock_b = shared_sft_stage(store, spec)
    assert stage_b != stage_a
    with lock_b(stage_b):
        stage = json.loads((stage_b / "stage.json").read_text())
        assert stage["model_dir"] == str(stage_b / "final")  # rewritten to this node's copy
        assert (stage_b / "final" / "adapter_model.safetensors").read_bytes() == b"weights"
        assert not (stage_b / "checkpoint-6").exists()  # only the finished stage travels
    upload_dirs = [p for p in (Path(store.fs_path) / "stage_cache" / stage_a.name).iterdir()]
    assert len(upload_dirs) == 1  # node b did not publish again


def test_local_storage_keeps_the_laptop_layout(tmp_path: Path) -> None:
    local = open_run_storage(str(tmp_path / "runs"), "r")
    stage, _ = shared_sft_stage(local, SweepSpec())
    assert stage.parent == local.local_dir / "stage_cache"
    workspace = TrialWorkspace(local, "t")
    assert workspace.local_dir == local.local_dir / "trials" / "t"
    assert not workspace.pull()
    workspace.push()  # no-op


def test_the_driver_mirror_gets_trial_records_but_not_weights(store: RunStorage, tmp_path: Path) -> None:
    base = Path(store.fs_path) / "trials" / "t1"
    (base / "dpo" / "final").mkdir(parents=True)
    (base / "dpo" / "final" / "w.bin").write_bytes(b"w")
    (base / "result.json").write_text("{}")
    mirror = tmp_path / "mirror"
    mirror_trial_records(store, mirror)
    assert (mirror / "trials" / "t1" / "result.json").is_file()
    assert not (mirror / "trials" / "t1" / "dpo" / "final").exists()
    (mirror / "summary.json").write_text('{"best_trial": "t1"}')
    (mirror / "report").mkdir()
    (mirror / "report" / "leaderboard.md").write_text("| t1 |")
    publish_run_files(store, mirror)
    assert json.loads(store.read_text("summary.json")) == {"best_trial": "t1"}
    assert store.read_text("report/leaderboard.md") == "| t1 |"
