"""Where a run lives: a local (or shared, e.g. NFS/EFS) directory, or an object-store URI.

On a cluster every node must see the run: Tune's experiment state, each trial's work and the shared SFT
stage cache. A shared filesystem path needs nothing special: every node reads and writes it directly, and
file locks work. An object store (``s3://``, ``gs://``, or ``file://`` for tests) has no locks and no
directories, so trials train in a per-node scratch directory and copy results up and down through a pyarrow
filesystem (the same layer Ray Tune uses for ``RunConfig(storage_path=URI)``). Publication is atomic by
marker: content first, then a small marker object written in one PUT (or a rename where the filesystem has
one); readers trust only what a marker names.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolsweep.errors import UserError

__all__ = ["RunStorage", "is_uri", "open_run_storage", "scratch_root"]

# Schemes pyarrow.fs.FileSystem.from_uri understands (hdfs and abfs need extra native libraries).
SCHEMES = ("file", "s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss")


def is_uri(path: str) -> bool:
    """True for ``scheme://...`` storage paths (object stores), False for plain paths."""
    return "://" in path


def scratch_root() -> Path:
    """This node's scratch directory for runs stored at a URI (``TOOLSWEEP_SCRATCH``, else the temp dir).

    The same path on every node, so a trial retried on another node finds its downloaded files in the
    same place; it only needs to be large enough for the trials running on that node.
    """
    return Path(os.environ.get("TOOLSWEEP_SCRATCH") or Path(tempfile.gettempdir()) / "toolsweep-scratch")


@dataclass(frozen=True)
class RunStorage:
    """One run's root: ``uri`` is what Ray Tune gets as ``storage_path``; for a local run it is a path."""

    uri: str
    fs_path: str
    filesystem: Any | None = None  # a pyarrow FileSystem for URIs; None for a local or shared path

    @classmethod
    def at_path(cls, path: str | Path) -> RunStorage:
        """Storage for a run directory on a local or shared filesystem."""
        local = str(Path(path).expanduser().resolve())
        return cls(uri=local, fs_path=local)

    @property
    def is_local(self) -> bool:
        return self.filesystem is None

    @property
    def local_dir(self) -> Path:
        """The run directory on a local/shared filesystem (only for local storage)."""
        if not self.is_local:
            raise ValueError(f"{self.uri} is not a local path")
        return Path(self.fs_path)

    def join(self, *parts: str) -> str:
        """The URI (or path) of ``parts`` under the run, as a user would type it."""
        return "/".join([self.uri.rstrip("/"), *parts])

    def _path(self, rel: str) -> str:
        rel = rel.strip("/")
        return "/".join([self.fs_path.rstrip("/"), rel]) if rel else self.fs_path

    def scratch(self, *parts: str) -> Path:
        """A per-node local directory mirroring ``parts`` of this run (used when the run is at a URI)."""
        name = self.fs_path.strip("/").replace("/", "_") or "run"
        return scratch_root().joinpath(name, *parts)

    # Small files: metadata, markers, results.
    def exists(self, rel: str) -> bool:
        if self.is_local:
            return Path(self._path(rel)).exists()
        from pyarrow.fs import FileType

        return self.filesystem.get_file_info(self._path(rel)).type != FileType.NotFound

    def read_text(self, rel: str) -> str:
        if self.is_local:
            return Path(self._path(rel)).read_text()
        with self.filesystem.open_input_stream(self._path(rel)) as handle:
            return handle.read().decode()

    def write_text(self, rel: str, text: str) -> None:
        """Write atomically: readers see the old content or the new one, never a part."""
        if self.is_local:
            path = Path(self._path(rel))
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
            tmp.write_text(text)
            tmp.replace(path)
            return
        target = self._path(rel)
        self.filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
        if _has_rename(self.filesystem):
            tmp = f"{target}.tmp-{uuid.uuid4().hex}"
            self._put(tmp, text.encode())
            self.filesystem.move(tmp, target)
        else:  # object stores: one PUT of a small object is atomic
            self._put(target, text.encode())

    def _put(self, path: str, data: bytes) -> None:
        with self.filesystem.open_output_stream(path) as handle:
            handle.write(data)

    # Directories: stages and trial workspaces.
    def remote_files(self, rel: str) -> dict[str, int]:
        """Relative path → size of every file under ``rel`` (empty if absent)."""
        from pyarrow.fs import FileSelector, FileType

        base = self._path(rel)
        infos = self.filesystem.get_file_info(FileSelector(base, recursive=True, allow_not_found=True))
        return {info.path[len(base):].lstrip("/"): info.size for info in infos if info.type == FileType.File}

    def upload(self, local_dir: Path, rel: str, *, skip_same_size: Iterable[str] = (), last: Iterable[str] = ()) -> int:
        """Copy ``local_dir`` to ``rel``; returns the number of files copied.

        Files under a prefix in ``skip_same_size`` that already exist remotely with the same size are not
        copied again (immutable checkpoints). Files named in ``last`` are copied after all others, so that
        a reader who sees them knows the rest is complete.
        """
        skip, final_names = tuple(skip_same_size), set(last)
        present = self.remote_files(rel)
        files = sorted((p for p in Path(local_dir).rglob("*") if p.is_file()), key=lambda p: (p.name in final_names, str(p)))
        copied = 0
        for path in files:
            name = path.relative_to(local_dir).as_posix()
            if name.startswith(skip) and present.get(name) == path.stat().st_size:
                continue
            target = self._path(f"{rel}/{name}")
            self.filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
            self._put(target, path.read_bytes())
            copied += 1
        return copied

    def upload_file(self, path: Path, rel: str) -> None:
        """Copy one local file to ``rel``."""
        target = self._path(rel)
        self.filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
        self._put(target, Path(path).read_bytes())

    def download(self, rel: str, local_dir: Path, *, exclude: Iterable[str] = ()) -> int:
        """Copy every file under ``rel`` into ``local_dir`` (created), except paths containing a string in
        ``exclude``; returns the number of files copied."""
        skip = tuple(exclude)
        files = [name for name in self.remote_files(rel) if not any(part in name for part in skip)]
        targets = {name: _local_target(Path(local_dir), name, self.join(rel)) for name in files}  # all, before writing
        for name, path in targets.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            with self.filesystem.open_input_stream(self._path(f"{rel}/{name}")) as handle:
                path.write_bytes(handle.read())
        return len(files)


def _local_target(local_dir: Path, name: str, source: str) -> Path:
    """Where the remote file ``name`` (relative to ``source``) goes under ``local_dir``, or an error.

    Object names are whatever whoever can write to the bucket chose: a key such as ``a/../../x`` or an
    absolute one would otherwise write outside the destination (the trial's or the stage's directory).
    Names must be relative, without ``..`` or empty parts, and the joined path must still resolve inside
    ``local_dir`` (a symlink inside it cannot redirect the write). A backslash is an ordinary character
    on POSIX and is kept.
    """
    pieces = name.split("/")
    target = Path(local_dir).joinpath(*pieces)
    if (name.startswith("/") or "\0" in name or any(piece in ("", ".", "..") for piece in pieces)
            or not target.resolve().is_relative_to(Path(local_dir).resolve())):
        raise UserError(f"refusing to download {source}/{name}: the object name {name!r} leads outside {local_dir} "
                        "(an absolute path, an empty, '.' or '..' part, or a link out of it); "
                        "remove or rename that object in the store")
    return target


def _has_rename(filesystem: Any) -> bool:
    return filesystem.type_name in ("local", "hdfs")


def open_run_storage(path: str, name: str) -> RunStorage:
    """The storage of run ``name`` under ``storage.path`` (a path or a URI); checks a URI's scheme early."""
    if not is_uri(path):
        return RunStorage.at_path(Path(path) / name)
    scheme = path.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise UserError(f"storage.path {path!r}: unknown scheme {scheme!r}; use a local or shared path, "
                        f"or one of {', '.join(s + '://' for s in SCHEMES)}")
    from pyarrow.fs import FileSystem

    uri = path.rstrip("/") + "/" + name
    try:
        filesystem, fs_path = FileSystem.from_uri(uri)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError with its own message (missing credentials...)
        raise UserError(f"storage.path {path!r} cannot be opened ({exc}); check the URI and the credentials "
                        "for the object store on this machine") from exc
    return RunStorage(uri=uri, fs_path=fs_path, filesystem=filesystem)
