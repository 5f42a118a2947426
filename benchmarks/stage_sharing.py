"""Compute saved by the SFT stage cache: a sweep of 4 SFT configurations x 3 DPO betas, run once with
``storage.share_stages: true`` (the default) and once with every trial from scratch, side by side.

Trial-seconds are the sum over trials of their wall time (each trial holds ``cpus_per_trial`` CPUs the
whole time). Each sweep runs its trials one at a time, so waiting on a shared stage never counts as work,
and the two sweeps run side by side, one core each, so load on the machine affects both alike. The final
accuracies of the two runs must be identical, configuration by configuration. Target ratio: <= 0.45.

    python benchmarks/stage_sharing.py [--model builtin:tiny-tool-lm] [--sft-steps 240] [--dpo-steps 30]
        [--table grid.json]

``--table`` also saves the from-scratch run as a lookup table (each configuration's reports and costs),
which ``benchmarks/search_efficiency.py`` replays: the naive run of this benchmark is an exhaustive grid.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from grid_table import lookup_table, run_sweep_summary

LEARNING_RATES = [5.0e-4, 1.0e-3, 2.0e-3, 4.0e-3]
BETAS = [0.05, 0.1, 0.3]


def _sweep(work: Path, name: str, share: bool, args: argparse.Namespace) -> Path:
    spec = {
        "name": name,
        "model": {"name": args.model},
        "data": {"train_examples": args.train_examples, "preference_pairs": args.pairs,
                 "validation_examples": args.eval_examples, "test_examples": args.eval_examples},
        "sft": {"max_steps": args.sft_steps, "eval_every": max(1, args.sft_steps // 2), "learning_rate": {"grid": LEARNING_RATES}},
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


def _outcome(metrics: dict) -> dict:
    """Every validation and test metric, timings aside: what the stage cache must not change."""
    return {k: v for k, v in metrics.items() if k.startswith(("val/", "test/")) and "seconds" not in k}


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
    parser.add_argument("--table", help="also write the from-scratch grid's reports here (JSON)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as pool:
        work = Path(tmp)
        # Both sweeps at once, one trial at a time each, one core each: load on the machine hits both alike.
        runs = [pool.submit(run_sweep_summary, _sweep(work, name, share, args)) for name, share in (("shared", True), ("naive", False))]
        shared_summary, naive_summary = (run.result() for run in runs)
        shared, naive = _by_config(shared_summary), _by_config(naive_summary)
    if args.table:
        space = {"sft.learning_rate": LEARNING_RATES, "dpo.beta": BETAS}
        about = {"model": args.model, "sft_steps": args.sft_steps, "dpo_steps": args.dpo_steps}
        Path(args.table).write_text(json.dumps(lookup_table(naive_summary, space, about), indent=1))
    seconds_shared = sum(m["cost/wall_seconds"] for m in shared.values())
    seconds_naive = sum(m["cost/wall_seconds"] for m in naive.values())
    computed = sum(1 for m in shared.values() if m.get("sft/cached") == 0.0)
    identical = shared.keys() == naive.keys() and all(_outcome(shared[c]) == _outcome(naive[c]) for c in naive)
    print(f"{len(naive)} trials ({len(LEARNING_RATES)} SFT configs x {len(BETAS)} betas), model {args.model}, "
          f"SFT {args.sft_steps} steps, DPO {args.dpo_steps} steps")
    print(f"naive (every trial from scratch): {seconds_naive:8.1f} trial-seconds")
    print(f"shared SFT stages               : {seconds_shared:8.1f} trial-seconds ({computed} SFT runs computed)")
    print(f"ratio {seconds_shared / seconds_naive:.3f} (target <= 0.45); final accuracies identical: {identical}")


if __name__ == "__main__":
    main()
