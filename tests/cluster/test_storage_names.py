"""Object names from a store are untrusted: a download never writes outside its destination directory.

A fake object store (a listing and the bytes of each object) stands in for S3: a real one accepts keys
such as ``run/trials/t1/../../x`` that a local filesystem cannot even hold."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pyarrow.fs import FileInfo, FileSelector, FileType

from toolsweep.cluster.storage import RunStorage
from toolsweep.cluster.workspace import _fetch
from toolsweep.errors import UserError


class FakeStore:
    """The pyarrow FileSystem calls ``RunStorage`` makes when downloading, over a dict of key → bytes."""

    type_name = "s3"

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def get_file_info(self, what: FileSelector | str) -> list[FileInfo] | FileInfo:
        if isinstance(what, str):
            return FileInfo(what, FileType.File if what in self.objects else FileType.NotFound)
        prefix = what.base_dir.rstrip("/") + "/"
        return [FileInfo(key, FileType.File, size=len(data)) for key, data in self.objects.items() if key.startswith(prefix)]

    def open_input_stream(self, path: str) -> io.BytesIO:
        return io.BytesIO(self.objects[path])


def _store(objects: dict[str, bytes]) -> RunStorage:
    return RunStorage(uri="s3://bucket/run", fs_path="bucket/run", filesystem=FakeStore(objects))


@pytest.mark.parametrize("name", ["../escape.txt", "sft/../../escape.txt", "sft/../final.txt", "a//b.txt", "./a.txt",
                                  "sft/..", "a/\0b"])
def test_a_name_leading_outside_the_destination_is_refused_before_anything_is_written(tmp_path: Path, name: str) -> None:
    destination = tmp_path / "scratch" / "trials" / "t1"
    store = _store({"bucket/run/trials/t1/attempts.jsonl": b"{}\n", f"bucket/run/trials/t1/{name}": b"x"})
    with pytest.raises(UserError, match=r"refusing to download s3://bucket/run/trials/t1/.*leads outside") as caught:
        store.download("trials/t1", destination)
    assert repr(name) in str(caught.value) and "remove or rename that object" in str(caught.value)
    assert not (tmp_path / "scratch" / "trials" / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()
    assert not destination.exists()  # every name is checked first: not even the good file was written


def test_a_symlink_inside_the_destination_cannot_redirect_a_download(tmp_path: Path) -> None:
    destination, outside = tmp_path / "dest", tmp_path / "outside"
    destination.mkdir()
    outside.mkdir()
    (destination / "link").symlink_to(outside)
    with pytest.raises(UserError, match="'link/x.txt' leads outside"):
        _store({"bucket/run/trials/t1/link/x.txt": b"x"}).download("trials/t1", destination)
    assert list(outside.iterdir()) == []


def test_ordinary_names_download_where_they_say(tmp_path: Path) -> None:
    objects = {"bucket/run/trials/t1/sft/checkpoint-3/trainer_state.json": b"{}",
               "bucket/run/trials/t1/notes\\v1.txt": b"kept",  # a backslash is a character on POSIX
               "bucket/run/trials/t1/..hidden": b"dots in a name are fine"}
    assert _store(objects).download("trials/t1", tmp_path / "t1") == 3
    assert (tmp_path / "t1" / "sft" / "checkpoint-3" / "trainer_state.json").read_bytes() == b"{}"
    assert (tmp_path / "t1" / "notes\\v1.txt").read_bytes() == b"kept"
    assert (tmp_path / "t1" / "..hidden").is_file()


def test_a_stage_marker_naming_a_prefix_outside_the_stage_is_refused(tmp_path: Path) -> None:
    store = _store({"bucket/run/stage_cache/sft-k.json": json.dumps({"upload": "../../other"}).encode()})
    with pytest.raises(UserError, match=r"sft-k\.json names upload '\.\./\.\./other'.*delete that marker"):
        _fetch(store, "stage_cache/sft-k", tmp_path / "stage")
    assert not (tmp_path / "stage").exists()
