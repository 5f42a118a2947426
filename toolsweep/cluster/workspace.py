"""A trial's working directory and the shared SFT stage cache, for a run on any ``RunStorage``.

Local or shared storage: the trial works in ``RUN/trials/<id>`` and SFT stages live in ``RUN/stage_cache``
under a file lock, as on a laptop; nothing is copied. URI storage: the trial works in this node's scratch
copy of the same layout. Its workspace is pushed to the URI at every validation report and at the end,
checkpoint directories once each, ``trainer_state.json``/``stage.json``/``result.json`` last, so a retry on
another node pulls a consistent state and resumes from the last complete checkpoint. A finished SFT stage
is published once as ``stage_cache/sft-KEY/<upload id>/`` plus the marker ``stage_cache/sft-KEY.json``
naming that upload; a trial on any node with the same key downloads it instead of training.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path

from toolsweep.cluster.storage import RunStorage
from toolsweep.config.schema import SweepSpec
from toolsweep.errors import UserError
from toolsweep.trainers.checkpoints import STAGE_FILE, TRAINER_STATE_FILE, drop_incomplete_checkpoints
from toolsweep.trainers.stage_cache import sft_key, stage_lock

__all__ = ["TrialWorkspace", "mirror_trial_records", "publish_run_files", "shared_sft_stage"]

_WRITTEN_LAST = (TRAINER_STATE_FILE, STAGE_FILE, "result.json")
_UPLOAD_ID = re.compile(r"[0-9a-f]{12}")
_IMMUTABLE = ("sft/checkpoint-", "dpo/checkpoint-", "sft/final/", "dpo/final/")


class TrialWorkspace:
    """Where one trial works on this node, and how its state reaches the run's storage."""

    def __init__(self, storage: RunStorage, trial_id: str) -> None:
        self.storage = storage
        self.rel = f"trials/{trial_id}"
        self.local_dir = storage.local_dir / "trials" / trial_id if storage.is_local else storage.scratch("trials", trial_id)

    def pull(self) -> bool:
        """Before an attempt: fetch the trial's last pushed state if it is newer than this node's copy.

        Newer means a longer ``attempts.jsonl`` (one line per attempt), i.e. the trial ran elsewhere since
        this node last saw it. Checkpoints without ``trainer_state.json`` were cut off mid-upload: dropped.
        """
        if self.storage.is_local:
            return False
        remote = self.storage.remote_files(self.rel)
        local_attempts = self.local_dir / "attempts.jsonl"
        local_size = local_attempts.stat().st_size if local_attempts.is_file() else -1
        if remote.get("attempts.jsonl", -1) <= local_size:
            return False
        shutil.rmtree(self.local_dir, ignore_errors=True)
        self.storage.download(self.rel, self.local_dir)
        for stage_dir in self.local_dir.iterdir():
            if stage_dir.is_dir():
                drop_incomplete_checkpoints(stage_dir)
        return True

    def push(self) -> None:
        """Copy what changed to the run's storage (no-op for local/shared storage)."""
        if not self.storage.is_local and self.local_dir.is_dir():
            self.storage.upload(self.local_dir, self.rel, skip_same_size=_IMMUTABLE, last=_WRITTEN_LAST)


def shared_sft_stage(storage: RunStorage, spec: SweepSpec) -> tuple[Path, Callable[[Path], AbstractContextManager[None]]]:
    """The SFT stage directory for ``spec`` on this node and the lock to hold while computing or loading it."""
    name = f"sft-{sft_key(spec)}"
    if storage.is_local:
        return storage.local_dir / "stage_cache" / name, stage_lock
    return storage.scratch("stage_cache", name), partial(_published_stage, storage, f"stage_cache/{name}")


@contextmanager
def _published_stage(storage: RunStorage, rel: str, stage_dir: Path) -> Iterator[None]:
    """The node-local lock, plus fetch-before and publish-after through the object store."""
    with stage_lock(stage_dir):  # trials on this node compute or download the stage once
        if not (stage_dir / STAGE_FILE).is_file():
            _fetch(storage, rel, stage_dir)
        yield
        if (stage_dir / STAGE_FILE).is_file() and not storage.exists(f"{rel}.json"):
            _publish(storage, rel, stage_dir)


def _fetch(storage: RunStorage, rel: str, stage_dir: Path) -> bool:
    if not storage.exists(f"{rel}.json"):
        return False
    upload = json.loads(storage.read_text(f"{rel}.json")).get("upload")
    if not isinstance(upload, str) or not _UPLOAD_ID.fullmatch(upload):  # it names a prefix in the store
        raise UserError(f"{storage.join(rel)}.json names upload {str(upload)[:80]!r}, not a 12-character hex id as "
                        "toolsweep writes; delete that marker so that the stage is computed and published again")
    tmp = stage_dir.with_name(f"{stage_dir.name}.download-{uuid.uuid4().hex[:8]}")
    storage.download(f"{rel}/{upload}", tmp)
    stage = json.loads((tmp / STAGE_FILE).read_text())
    stage["model_dir"] = str(stage_dir / Path(stage["model_dir"]).name)  # the uploader's path → this node's
    (tmp / STAGE_FILE).write_text(json.dumps(stage, indent=2))
    for stale in (stage_dir / "final", stage_dir / STAGE_FILE):  # a partial local run of this stage
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    stage_dir.mkdir(parents=True, exist_ok=True)
    (tmp / "final").rename(stage_dir / "final")
    (tmp / STAGE_FILE).rename(stage_dir / STAGE_FILE)  # last: it marks the stage complete
    shutil.rmtree(tmp, ignore_errors=True)
    return True


def _publish(storage: RunStorage, rel: str, stage_dir: Path) -> None:
    """Upload the final weights under a fresh id, then the marker naming it (content before marker)."""
    upload = uuid.uuid4().hex[:12]
    storage.upload(stage_dir / "final", f"{rel}/{upload}/final")
    storage.write_text(f"{rel}/{upload}/{STAGE_FILE}", (stage_dir / STAGE_FILE).read_text())
    storage.write_text(f"{rel}.json", json.dumps({"upload": upload, "stage": STAGE_FILE}))


def mirror_trial_records(storage: RunStorage, run_dir: Path) -> None:
    """URI storage: copy every trial's small files (results, attempts, failures) into the driver's mirror,
    so that the summary and report read them as on a laptop; weights and checkpoints stay in the store."""
    if not storage.is_local:
        storage.download("trials", Path(run_dir) / "trials", exclude=("/checkpoint-", "/final/"))


def publish_run_files(storage: RunStorage, run_dir: Path) -> None:
    """URI storage: upload the driver's own outputs (sweep.json, summary.json, report files) to the run."""
    if storage.is_local:
        return
    for path in Path(run_dir).iterdir():
        if path.name == "trials":
            continue
        if path.is_dir():
            storage.upload(path, path.name)
        else:
            storage.upload_file(path, path.name)
