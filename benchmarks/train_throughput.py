"""Training throughput on the built-in model: SFT tokens/s with padded batches, length-grouped batches and
padding-free packing, and DPO tokens/s, side by side in one run.

Why these options: a tool-calling prompt carries the tool schemas (hundreds of tokens) and the answer
tens, and example lengths vary a lot with the number of offered tools, so a padded batch spends much of
its compute on padding. Length grouping cuts the padding; packing (TRL's BFD, padding-free) removes it.

Precision: the variants run in fp32; on a CPU with native bf16 (AVX512-BF16 or AMX), where
``resources.precision: auto`` now picks bf16, the length-grouped SFT and the DPO runs are repeated in bf16.

Each variant is a real ``toolsweep train`` run of the quickstart at its default candidates (SFT only, or
DPO only for the DPO line), in a fresh process. Tokens/s = non-padding tokens trained
(``num_input_tokens_seen``) / training seconds, validation time left out. Variants are interleaved and
repeated, and the median is reported, so drift on the machine affects them alike.

    python benchmarks/train_throughput.py [--sweep configs/quickstart.yaml] [--steps 40] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_overhead import fixed_sweep

from toolsweep.trainers.hardware import cpu_has_native_bf16

FP32 = ["resources.precision=fp32"]
BF16 = ["resources.precision=bf16"]
SFT_VARIANTS = {"padded": FP32, "group_by_length": ["sft.group_by_length=true", *FP32], "packing": ["sft.packing=true", *FP32]}


def stage_figures(trial_dir: Path, stage: str) -> dict[str, float]:
    """Trained (non-padding) tokens and training seconds of one stage, validation time left out."""
    record = json.loads(next(trial_dir.rglob(f"{stage}/stage.json")).read_text())
    seconds = record["metrics"]["train_runtime"] - sum(h.get("val/seconds", 0.0) for h in record["history"])
    tokens = record["metrics"].get("num_input_tokens_seen", 0.0)
    return {"tokens": tokens, "train_s": seconds, "tokens_per_s": tokens / max(seconds, 1e-9)}


def run(sweep: Path, overrides: list[str], out: Path, stage: str) -> tuple[float, float]:
    """(tokens, seconds) of one stage of one ``toolsweep train`` run."""
    args = [a for o in overrides for a in ("--set", o)]
    subprocess.run([sys.executable, "-m", "toolsweep", "train", str(sweep), *args, "--out", str(out)],
                   check=True, capture_output=True, text=True)
    figures = stage_figures(out, stage)
    return figures["tokens"], figures["train_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", default=str(ROOT / "configs" / "quickstart.yaml"))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    common = ["data.validation_examples=8", "data.test_examples=8", "eval.validation_subset=4",
              f"sft.max_steps={args.steps}", f"sft.eval_every={args.steps}",
              f"dpo.max_steps={args.steps // 2}", f"dpo.eval_every={args.steps // 2}"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sweep = fixed_sweep(args.sweep, common + ["wandb.mode=disabled"], work)
        figures: dict[str, list[float]] = {}
        tokens: dict[str, float] = {}
        sft_variants = dict(SFT_VARIANTS)
        dpo_variants = {"DPO (padded)": FP32}
        if cpu_has_native_bf16():
            sft_variants["group_by_length bf16"] = ["sft.group_by_length=true", *BF16]
            dpo_variants["DPO bf16"] = BF16
        for r in range(args.repeats):
            for name, extra in sft_variants.items():
                t, s = run(sweep, ["dpo.enabled=false", *extra], work / f"{name}-{r}", "sft")
                figures.setdefault(name, []).append(t / s)
                tokens[name] = t
            for name, extra in dpo_variants.items():
                t, s = run(sweep, ["sft.enabled=false", *extra], work / f"{name}-{r}", "dpo")
                figures.setdefault(name, []).append(t / s)
                tokens[name] = t
    base = statistics.median(figures["padded"])
    print(f"{Path(args.sweep).name}, SFT {args.steps} steps / DPO {args.steps // 2} steps, median of {args.repeats}")
    print(f"{'variant':>20} {'tokens/s':>9} {'vs padded fp32':>14} {'tokens per run':>14}")
    for name, values in figures.items():
        median = statistics.median(values)
        reference = statistics.median(figures["DPO (padded)"]) if name.startswith("DPO") else base
        ratio = f"{median / reference:.2f}x"
        print(f"{name:>20} {median:>9.0f} {ratio:>14} {tokens[name]:>14.0f}")


if __name__ == "__main__":
    main()
