"""Helpers of the analysis tests, chiefly reading back an offline W&B run without the network: its
``run-*.wandb`` file holds every record.

W&B 0.31 no longer ships a reader (``wandb.sdk.internal.datastore`` is gone), so this follows its format:
a 7-byte header (``:W&B``, magic 0xBEE1, version 0), then LevelDB-log style 32 KiB blocks of records
``crc32 (4) | length (2, little-endian) | type (1) | data``, type 1 full / 2 first / 3 middle / 4 last.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

FAKE_KEY = "fake0wandb0key0" + "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5"  # 40 chars, like a real W&B key

_HEADER = 7
_BLOCK = 32768
_RECORD_HEADER = 7


def records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    out, offset, pending = [], _HEADER, b""
    while offset + _RECORD_HEADER <= len(data):
        left_in_block = _BLOCK - offset % _BLOCK
        if left_in_block < _RECORD_HEADER:
            offset += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[offset:offset + _RECORD_HEADER])
        chunk = data[offset + _RECORD_HEADER:offset + _RECORD_HEADER + length]
        offset += _RECORD_HEADER + length
        if kind == 0 and length == 0:
            continue
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            out.append(record)
            pending = b""
    return out


def _value(value_json: str) -> Any:
    """A config item: W&B stores some as ``{"value": ..., "desc": ...}`` and some bare."""
    value = json.loads(value_json)
    return value["value"] if isinstance(value, dict) and "value" in value else value


def read_run(run_dir: Path) -> dict[str, Any]:
    """``{"name", "group", "job_type", "project", "config", "summary", "history"}`` of one offline run."""
    (path,) = Path(run_dir).glob("run-*.wandb")
    run: dict[str, Any] = {"config": {}, "summary": {}, "history": []}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.update(name=record.run.display_name, group=record.run.run_group, job_type=record.run.job_type,
                       project=record.run.project)
            run["config"].update({item.key: _value(item.value_json) for item in record.run.config.update})
        elif kind == "config":
            run["config"].update({item.key: _value(item.value_json) for item in record.config.update})
        elif kind == "summary":
            for item in record.summary.update:
                key = item.key or "/".join(item.nested_key)
                run["summary"][key] = json.loads(item.value_json)
        elif kind == "history":
            row = {}
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                row[key] = json.loads(item.value_json)
            run["history"].append(row)
    return run


def offline_runs(run_dir: Path) -> list[Path]:
    """Offline run directories W&B wrote for a sweep (``$WANDB_DIR`` or RUN_DIR/wandb)."""
    root = Path(os.environ.get("WANDB_DIR") or run_dir / "wandb") / "wandb"
    return sorted(root.glob("offline-run-*"))
