"""What counts as a finished stage or checkpoint on disk, without importing torch.

Both the trainer (resuming a stage) and the cluster workspace (pulling a trial's state from another node)
need the same rule; keeping it here, free of torch and TRL, lets ``toolsweep.cluster`` use it cheaply.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["STAGE_FILE", "TRAINER_STATE_FILE", "drop_incomplete_checkpoints", "is_complete_checkpoint",
           "last_complete_checkpoint", "numbered_checkpoints"]

STAGE_FILE = "stage.json"
"""Written into a stage directory when the stage is done; a stage that has it is not run again."""
TRAINER_STATE_FILE = "trainer_state.json"
"""The Trainer writes it last into ``checkpoint-N``, and not atomically."""


def is_complete_checkpoint(checkpoint: Path) -> bool:
    """True when the Trainer finished writing ``checkpoint`` (its ``trainer_state.json`` exists)."""
    return (checkpoint / TRAINER_STATE_FILE).is_file()


def numbered_checkpoints(stage_dir: Path) -> list[Path]:
    """The stage's ``checkpoint-N`` directories, newest first (complete or not)."""
    found = [p for p in stage_dir.glob("checkpoint-*") if p.name.removeprefix("checkpoint-").isdigit()]
    return sorted(found, key=lambda p: int(p.name.removeprefix("checkpoint-")), reverse=True)


def drop_incomplete_checkpoints(stage_dir: Path) -> None:
    """Remove every ``checkpoint-N`` of ``stage_dir`` that was cut off mid-write (or mid-upload)."""
    for checkpoint in numbered_checkpoints(stage_dir):
        if not is_complete_checkpoint(checkpoint):
            shutil.rmtree(checkpoint, ignore_errors=True)  # other ranks may be removing it too


def last_complete_checkpoint(stage_dir: Path) -> str | None:
    """The newest checkpoint of ``stage_dir`` that the Trainer finished writing, or None.

    A node lost while saving leaves a newer ``checkpoint-N`` without ``trainer_state.json``, from which
    resuming fails on every retry. Such directories are removed, so the retry resumes from the previous
    checkpoint and later rotation never counts them."""
    if not stage_dir.is_dir():
        return None
    drop_incomplete_checkpoints(stage_dir)
    newest = numbered_checkpoints(stage_dir)
    return str(newest[0]) if newest else None
