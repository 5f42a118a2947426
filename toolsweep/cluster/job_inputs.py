"""The local files a sweep file names, shipped with a Ray Job (``toolsweep submit``).

A sweep file names files on the machine it was written on: training data (``data.sources.*.path``),
evaluation sets (``data.validation``/``data.test`` ``path`` and ``bfcl_source``), DPO preference rows
(``data.preferences.path``), ``eval.when2call``, a DeepSpeed JSON (``resources.deepspeed``), a chat template
file and a local model folder. The job validates the sweep again on the cluster, where none of them exist,
and failed with "does not exist". Here each one is copied into the job's ``working_dir`` under
``toolsweep_inputs/`` and the submitted sweep file (and any ``--set`` that named it) points at the copy by a
relative path; the job starts in its working_dir, so the path resolves there and is made absolute before
trials start. Ray unpacks a job's working_dir at the same path on every node that runs its tasks as long as
the nodes share Ray's temp dir (the default /tmp/ray), so trials on any node find the files.

What cannot be shipped is refused before anything is sent, with what to change: files in a search
expression (only the default candidate would be rewritten) and files larger than a job can carry (Ray's
limit on a working_dir, 512 MiB by default).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from toolsweep.config import Sweep, parse_overrides
from toolsweep.config.file_fields import file_fields
from toolsweep.config.yaml_reader import dotted, parse_yaml, read_sweep_text
from toolsweep.errors import UserError

__all__ = ["INPUTS_DIR", "LocalInput", "local_inputs", "stage_sweep"]

INPUTS_DIR = "toolsweep_inputs"
_SECTIONS_WITH_FILES = ("data", "eval", "resources", "model")
_DEFAULT_LIMIT = 512 * 1024 * 1024
Loc = tuple[Any, ...]


@dataclass(frozen=True)
class LocalInput:
    """A local file or folder the sweep names at ``field``, and its path inside the job's working_dir."""

    field: Loc
    source: Path
    shipped: str


def _is_local(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and Path(value).expanduser().exists()


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


def _limit() -> int:
    try:
        from ray._private.runtime_env.packaging import GCS_STORAGE_MAX_SIZE
    except ImportError:
        return _DEFAULT_LIMIT
    return int(GCS_STORAGE_MAX_SIZE)


def local_inputs(sweep: Sweep) -> list[LocalInput]:
    """The local files and folders ``sweep`` names, each with the path its copy gets in the job; a
    ``UserError`` lists those that cannot travel with a job and says what to do instead."""
    searched = [f"{path} (candidates {[c for c in _strings(domain.candidates()) if _is_local(c)]})"
                for path, domain in sweep.space.items()
                if path.split(".")[0] in _SECTIONS_WITH_FILES and any(_is_local(c) for c in _strings(domain.candidates()))]
    if searched:
        raise UserError("toolsweep submit copies the local files a sweep names into the job, but these are searched, "
                        f"so the job could not be pointed at every candidate: {'; '.join(searched)}. Give each a fixed "
                        "value (one sweep file per choice), or run `toolsweep run --address auto` on the head node, "
                        "where the files are")
    inputs, shipped_as = [], {}
    for loc, value in file_fields(sweep.spec):
        if not _is_local(value):
            continue
        source = Path(value).expanduser().resolve()
        if source not in shipped_as:
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", source.name).lstrip(".") or "input"
            shipped_as[source] = f"{INPUTS_DIR}/{len(shipped_as)}-{safe}"
        inputs.append(LocalInput(loc, source, shipped_as[source]))
    sizes = {source: _size(source) for source in shipped_as}
    if sum(sizes.values()) >= _limit():
        listing = "; ".join(f"{dotted(i.field)}: {i.source} ({_mib(sizes[i.source])})" for i in inputs)
        raise UserError(f"toolsweep submit: the local files this sweep names add up to {_mib(sum(sizes.values()))}, "
                        f"more than a Ray Job can carry ({_mib(_limit())}): {listing}. Use hub data sets or a hub model "
                        "id, smaller files, or run `toolsweep run --address auto` on the head node, where the files are")
    return inputs


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _replace_at(data: Any, loc: Loc, value: str) -> bool:
    """Set ``data[loc] = value`` if ``loc`` is there as a plain value; False if the data does not hold it."""
    for part in loc[:-1]:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    if not isinstance(data, dict) or not isinstance(data.get(loc[-1]), str):
        return False
    data[loc[-1]] = value
    return True


def stage_sweep(sweep: Sweep, sweep_path: Path, overrides: Sequence[str], staging: Path) -> tuple[list[str], list[LocalInput]]:
    """Copy the sweep file and the local files it names into ``staging`` (the job's working_dir).

    Returns the ``--set`` overrides for the job (those that named a shipped file now name its copy) and
    what was shipped. The staged sweep file is the original, byte for byte, when it names no local file;
    otherwise the same document with those paths replaced (its comments are not kept).
    """
    inputs = local_inputs(sweep)
    text = read_sweep_text(sweep_path)
    raw = parse_yaml(text, str(sweep_path)).data
    in_file = {item.field for item in inputs if _replace_at(raw, item.field, item.shipped)}
    new_overrides, in_overrides = [], set()
    for item_text, (loc, value) in zip(overrides, parse_overrides(list(overrides)), strict=True):
        changed = False
        for item in inputs:
            if item.field[:len(loc)] != loc:
                continue
            if item.field == loc:
                value = item.shipped
            elif not _replace_at(value, item.field[len(loc):], item.shipped):
                continue
            changed = True
            in_overrides.add(item.field)
        if changed:  # a shipped path is a plain YAML string; a section goes back as a one-line flow mapping
            flow = value if isinstance(value, str) else yaml.safe_dump(
                value, default_flow_style=True, sort_keys=False, width=10**6).strip()  # order matters: test sets
            item_text = f"{item_text.partition('=')[0]}={flow}"
        new_overrides.append(item_text)
    missing = [dotted(item.field) for item in inputs if item.field not in in_file | in_overrides]
    if missing:  # not expected: every path comes from the file or an override
        raise UserError(f"toolsweep submit could not find where the sweep file sets {', '.join(missing)} to point it at "
                        "the copy sent with the job; write these paths in the sweep file itself")
    for source, shipped in {item.source: item.shipped for item in inputs}.items():
        target = staging / shipped
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target) if source.is_dir() else shutil.copy2(source, target)
    staging.mkdir(parents=True, exist_ok=True)
    if in_file:
        header = (f"# {sweep_path.name} as sent by toolsweep submit: the local files it names are copies "
                  f"in {INPUTS_DIR}/\n")
        (staging / sweep_path.name).write_text(header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    else:
        shutil.copy2(sweep_path, staging / sweep_path.name)
    return new_overrides, inputs
