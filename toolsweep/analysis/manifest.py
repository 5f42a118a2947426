"""``manifest.json``: the sha256 and size of every file of an export, and the check that they still match.

An exported model travels (copied to a cluster, uploaded, attached to a release); the manifest lets whoever
receives it confirm that what they load is what the sweep produced and was verified against the test split.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from toolsweep.errors import UserError

__all__ = ["MANIFEST", "ManifestMismatch", "file_digest", "verify_manifest", "write_manifest"]

MANIFEST = "manifest.json"
_CHUNK = 1 << 20


class ManifestMismatch(UserError):
    """The files of an export no longer match its manifest (changed, missing or added)."""


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).as_posix() != MANIFEST)


def write_manifest(root: str | Path) -> dict[str, Any]:
    """Hash every file under ``root`` (except the manifest itself) into ``root/manifest.json``."""
    root = Path(root)
    files = {p.relative_to(root).as_posix(): {"sha256": file_digest(p), "bytes": p.stat().st_size} for p in _files(root)}
    manifest = {"algorithm": "sha256", "files": files}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def verify_manifest(root: str | Path) -> dict[str, Any]:
    """Return the manifest when every file matches it; raise ManifestMismatch naming each difference."""
    root = Path(root)
    path = root / MANIFEST
    if not path.is_file():
        raise ManifestMismatch(f"{root} has no {MANIFEST}; it was not written by `toolsweep export`")
    manifest = json.loads(path.read_text())
    expected: dict[str, dict[str, Any]] = manifest["files"]
    present = {p.relative_to(root).as_posix() for p in _files(root)}
    problems = [f"missing: {name}" for name in sorted(set(expected) - present)]
    problems += [f"not in the manifest: {name}" for name in sorted(present - set(expected))]
    for name in sorted(set(expected) & present):
        entry = expected[name]
        actual = root / name
        if actual.stat().st_size != entry["bytes"] or file_digest(actual) != entry["sha256"]:
            problems.append(f"changed: {name}")
    if problems:
        raise ManifestMismatch(
            f"{root} does not match its manifest ({'; '.join(problems)}); export the model again with "
            "`toolsweep export RUN_DIR --out DIR` rather than using these files"
        )
    return manifest
