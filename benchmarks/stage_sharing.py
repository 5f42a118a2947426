"""Compute saved by the SFT stage cache: a sweep of 4 SFT configurations x 3 DPO betas, run once with
``storage.share_stages: true`` (the default) and once with every trial from scratch, side by side.

Trial-seconds are the sum over trials of their wall time (each trial holds ``cpus_per_trial`` CPUs the
whole time). Trials run one at a time so waiting on a shared stage never counts as work. The final
accuracies of the two runs must be identical, configuration by configuration. Target ratio: <= 0.45.

    python benchmarks/stage_sharing.py [--model builtin:tiny-tool-lm] [--sft-steps 240] [--dpo-steps 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

LEARNING_RATES = [5.0e-4, 1.0e-3, 2.0e-3, 4.0e-3]
BETAS = [0.05, 0.1, 0.3]


def _sweep(work: Path, name: str, share: bool, args: argparse.Namespace) -> Path:
    spec = {
        "name": name,
        "model": {"name": args.model},
        "data": {"train_examples": args.train_examples, "preference_pairs": args.pairs,
                 "validation_examples": args.eval_examples, "test_examples": args.eval_examples},
        "sft": {"max_steps": args.sft_steps, "eval_every": args.sft_steps, "learning_rate": {"grid": LEARNING_RATES}},
        "dpo": {"max_steps": args.dpo_steps, "eval_every": args.dpo_steps, "beta": {"grid": BETAS}},
        "eval": {"validation_subset": 8},
        "search": {"algorithm": "grid", "scheduler": "fifo", "num_samples": 1, "max_concurrent_trials": 1},
        "resources": {"cpus_per_trial": 1},
        "storage": {"path": str(work), "share_stages": share},
        "wandb": {"mode": "disabled"},
    }
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _run(sweep: Path) -> dict:
    subprocess.run([sys.executable, "-m", "toolsweep", "run", str(sweep)], check=True, capture_output=True, text=True)
    return json.loads((sweep.parent / sweep.stem / "summary.json").read_text())


def _by_config(summary: dict) -> dict[tuple, dict]:
    return {(t["config"]["sft.learning_rate"], t["config"]["dpo.beta"]): t["metrics"] for t in summary["trials"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="builtin:tiny-tool-lm")
    parser.add_argument("--sft-steps", type=int, default=240)
    parser.add_argument("--dpo-steps", type=int, default=30)
    parser.add_argument("--train-examples", type=int, default=800)
    parser.add_argument("--pairs", type=int, default=240)
    parser.add_argument("--eval-examples", type=int, default=48)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shared = _by_config(_run(_sweep(work, "shared", True, args)))
        naive = _by_config(_run(_sweep(work, "naive", False, args)))
    seconds_shared = sum(m["cost/wall_seconds"] for m in shared.values())
    seconds_naive = sum(m["cost/wall_seconds"] for m in naive.values())
    computed = sum(1 for m in shared.values() if m.get("sft/cached") == 0.0)
    identical = all(shared[c]["val/exact_match"] == naive[c]["val/exact_match"]
                    and shared[c].get("test/exact_match") == naive[c].get("test/exact_match") for c in naive)
    print(f"{len(naive)} trials ({len(LEARNING_RATES)} SFT configs x {len(BETAS)} betas), model {args.model}, "
          f"SFT {args.sft_steps} steps, DPO {args.dpo_steps} steps")
    print(f"naive (every trial from scratch): {seconds_naive:8.1f} trial-seconds")
    print(f"shared SFT stages               : {seconds_shared:8.1f} trial-seconds ({computed} SFT runs computed)")
    print(f"ratio {seconds_shared / seconds_naive:.3f} (target <= 0.45); final accuracies identical: {identical}")


if __name__ == "__main__":
    main()
