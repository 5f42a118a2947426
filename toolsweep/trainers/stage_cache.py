"""A content-addressed cache of SFT results shared by every trial of a sweep.

Trials that differ only in DPO settings (beta, loss, DPO learning rate) need the same SFT model; running
it again per trial is the largest waste in a naive sweep. The key hashes exactly what determines the SFT
weights: model, training data, LoRA, SFT hyperparameters, precision, worker count and seed. A file lock
makes concurrent trials with the same key compute it once: the first holds the lock and trains, the others
wait and then load the finished stage. A trial stopped mid-stage leaves checkpoints that the next trial
with the same key resumes from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from toolsweep.config.schema import SweepSpec

__all__ = ["sft_key", "sft_stage_dir", "stage_lock"]

# Fields that change logging, checkpoint cadence or validation, but not the trained weights.
_SFT_IGNORED = {"eval_every"}


def sft_key(spec: SweepSpec) -> str:
    """16 hex digits identifying the SFT result that ``spec`` would produce."""
    data = spec.data
    material = {
        "model": spec.model.model_dump(mode="json"),
        "data": {
            "sources": {name: source.model_dump(mode="json") for name, source in data.sources.items()},
            "train_examples": data.train_examples,
            "strict": data.strict,
        },
        "lora": spec.lora.model_dump(mode="json"),
        "sft": {k: v for k, v in spec.sft.model_dump(mode="json").items() if k not in _SFT_IGNORED},
        "precision": spec.resources.precision,
        "workers": spec.resources.workers,
        "seed": spec.seed,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def sft_stage_dir(cache_root: Path, spec: SweepSpec) -> Path:
    return Path(cache_root) / f"sft-{sft_key(spec)}"


@contextmanager
def stage_lock(stage_dir: Path) -> Iterator[None]:
    """Hold the stage's lock while computing or loading it (released on exit, and if the process dies)."""
    stage_dir.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(stage_dir) + ".lock"):
        yield
