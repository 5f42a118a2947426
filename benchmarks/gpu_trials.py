"""GPU figures for one machine: trials per hour, GPU utilisation, tokens/s per trial, SFT MFU, and how many
small trials can share one GPU before the total throughput stops rising.

Each trial is the real trial function run the way a Ray worker runs it: its own ``toolsweep train``
process (config → SFT → DPO → eval), on one shared GPU. ``--concurrency 1,2,4`` runs 1, then 2, then 4
such trials side by side (what ``gpus_per_trial: 1, 0.5, 0.25`` makes Ray do) and samples
``nvidia-smi`` every second while they run.

Without a hub, ``--shape qwen2.5-0.5b`` builds a randomly initialised model with Qwen2.5-0.5B's
transformer shape (24 layers, hidden 896, 14 heads, 2 KV heads, MLP 4864) and the built-in tokenizer,
so throughput and MFU are those of a 0.5B-class model; its accuracy is meaningless and not reported.

MFU counts 6·N FLOPs per trained token for full fine-tuning and 4·N for LoRA (the frozen weights'
gradients are not computed), N = non-embedding parameters, against the GPU's dense bf16 peak.

    python benchmarks/gpu_trials.py [--sweep configs/cluster/gpu_qwen.yaml] [--shape qwen2.5-0.5b | --model PATH]
        [--concurrency 1,2,4] [--set KEY=VALUE ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_overhead import fixed_sweep
from train_throughput import stage_figures

DENSE_BF16_PEAK = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "A10G": 70e12, "L4": 121e12}
SHAPES = {"qwen2.5-0.5b": {"hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14,
                               "num_key_value_heads": 2, "intermediate_size": 4864}}
# A short run of the GPU sweep file: enough steps for steady-state throughput, small evaluations.
DEFAULT_SETS = ["sft.max_steps=60", "sft.eval_every=30", "dpo.max_steps=30", "dpo.eval_every=30",
                "data.train_examples=960", "data.preference_pairs=240", "data.validation_examples=32",
                "data.test_examples=32", "eval.validation_subset=16", "eval.max_new_tokens=48"]


def build_shaped_model(shape: str, out: Path) -> Path:
    """A random model of a known architecture's shape with the built-in tokenizer (no download)."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from toolsweep.models.registry import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("builtin:tiny-tool-lm"))
    config = Qwen2Config(vocab_size=len(tokenizer), tie_word_embeddings=True, max_position_embeddings=4096,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **SHAPES[shape])
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def non_embedding_params(model_dir: Path) -> int:
    from transformers import AutoConfig, AutoModelForCausalLM

    with __import__("torch").device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir))
    return sum(p.numel() for n, p in model.named_parameters() if "embed" not in n and "lm_head" not in n)


class GpuSampler(threading.Thread):
    """``nvidia-smi`` utilisation and memory once a second until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"],
                                     check=False, capture_output=True, text=True).stdout.split(",")
            except FileNotFoundError:  # no NVIDIA driver: utilisation is not reported
                return
            if len(out) == 2:
                self.samples.append((float(out[0]), float(out[1])))
            self._halt.wait(1.0)

    def stop(self) -> dict[str, float]:
        self._halt.set()
        self.join()
        utils = [u for u, _ in self.samples] or [0.0]
        return {"gpu_util_mean": statistics.mean(utils), "gpu_mem_peak_mib": max((m for _, m in self.samples), default=0)}


def run_batch(sweep: Path, k: int, work: Path) -> dict[str, float]:
    """``k`` trials side by side on one GPU; wall time, utilisation and per-trial tokens/s."""
    sampler = GpuSampler()
    sampler.start()
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "toolsweep", "train", str(sweep), "--set", f"seed={i}",
                               "--out", str(work / f"k{k}-t{i}")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for i in range(k)]
    errors = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - started
    gpu = sampler.stop()
    for p, err in zip(procs, errors):
        if p.returncode:
            raise SystemExit(f"a trial failed (exit {p.returncode}):\n{err[-3000:]}")
    sft = [stage_figures(work / f"k{k}-t{i}", "sft") for i in range(k)]
    dpo = [stage_figures(work / f"k{k}-t{i}", "dpo") for i in range(k)]
    return {"k": k, "wall_s": wall, "trials_per_hour": k * 3600 / wall, **gpu,
            "sft_tokens_per_s_per_trial": statistics.mean(s["tokens_per_s"] for s in sft),
            "dpo_tokens_per_s_per_trial": statistics.mean(s["tokens_per_s"] for s in dpo),
            "sft_tokens_per_s_total": sum(s["tokens"] for s in sft) / max(s["train_s"] for s in sft)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", default=str(ROOT / "configs" / "cluster" / "gpu_qwen.yaml"))
    parser.add_argument("--shape", choices=sorted(SHAPES), default="qwen2.5-0.5b")
    parser.add_argument("--model", help="a local model directory instead of --shape")
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", default="gpu_trials_out")
    args = parser.parse_args()
    import torch

    work = Path(args.out).resolve()
    work.mkdir(parents=True, exist_ok=True)
    model = Path(args.model) if args.model else build_shaped_model(args.shape, work / f"model-{args.shape}")
    sweep = fixed_sweep(args.sweep, [f"model.name={model}", f"storage.path={work / 'runs'}", *DEFAULT_SETS,
                                     *args.overrides], work)
    n = non_embedding_params(model)
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    peak = next((v for k, v in DENSE_BF16_PEAK.items() if k in name), None)
    print(f"GPU {name}; model {model.name}: {n / 1e6:.0f}M non-embedding parameters", flush=True)
    rows = []
    for k in (int(x) for x in args.concurrency.split(",")):
        row = run_batch(sweep, k, work)
        if k == 1 and peak:
            row["sft_mfu_lora"] = row["sft_tokens_per_s_per_trial"] * 4 * n / peak
        rows.append(row)
        print(json.dumps({key: round(v, 4) if isinstance(v, float) else v for key, v in row.items()}), flush=True)
        (work / "gpu_trials.json").write_text(json.dumps(rows, indent=1))
    print(f"{'trials':>6} {'wall s':>7} {'trials/h':>9} {'GPU util %':>10} {'peak MiB':>9} "
          f"{'SFT tok/s/trial':>15} {'SFT tok/s total':>15} {'DPO tok/s/trial':>15}")
    for r in rows:
        print(f"{r['k']:>6} {r['wall_s']:>7.1f} {r['trials_per_hour']:>9.1f} {r['gpu_util_mean']:>10.1f} "
              f"{r['gpu_mem_peak_mib']:>9.0f} {r['sft_tokens_per_s_per_trial']:>15.0f} {r['sft_tokens_per_s_total']:>15.0f} "
              f"{r['dpo_tokens_per_s_per_trial']:>15.0f}")
    if rows and "sft_mfu_lora" in rows[0]:
        print(f"SFT MFU (one trial, LoRA, 4·N FLOPs/token, dense bf16 peak {peak / 1e12:.0f} TFLOP/s): "
              f"{rows[0]['sft_mfu_lora']:.3%}")


if __name__ == "__main__":
    main()
