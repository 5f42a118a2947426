"""Framework overhead of ``toolsweep train``: wall time and peak memory against a plain TRL script doing
the same SFT → DPO → evaluation work (benchmarks/_plain_trl.py), measured side by side in one run.

Both run as fresh processes (imports included), one after the other, ``--repeats`` times alternating;
the ratio of medians is printed. Target: wall-time ratio <= 1.10. Both train in fp32 (the plain script's
choice; toolsweep's ``auto`` would pick bf16 on a CPU with native bf16), so the ratio is framework overhead.

    python benchmarks/train_overhead.py [--sweep configs/quickstart.yaml] [--set KEY=VALUE ...] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PEAK = "import resource, runpy, sys; sys.argv = sys.argv[1:]; \n" \
       "try:\n    runpy.run_module('toolsweep', run_name='__main__')\n" \
       "except SystemExit as e:\n    code = e.code\n" \
       "print('PEAK_MB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"


def fixed_sweep(source: str, overrides: list[str], work: Path) -> Path:
    """The sweep with every searched field at its default candidate: one fixed configuration."""
    sys.path.insert(0, str(ROOT))
    from toolsweep.config import load_sweep

    spec = load_sweep(source, overrides).spec
    data = spec.model_dump(mode="json")
    data["storage"]["path"] = str(work / "runs")
    path = work / "fixed.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _toolsweep(sweep: Path, out: Path) -> tuple[float, float]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PEAK, "toolsweep", "train", str(sweep), "--out", str(out)],
                            capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    peak = float(next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("PEAK_MB")))
    return seconds, peak


def _plain(sweep: Path, out: Path) -> tuple[float, float, dict]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "_plain_trl.py"), str(sweep), str(out)],
                            capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return seconds, figures["peak_mb"], figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", default=str(ROOT / "configs" / "quickstart.yaml"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sweep = fixed_sweep(args.sweep, ["resources.precision=fp32", *args.overrides], work)
        ours, theirs, accuracy = [], [], {}
        for i in range(args.repeats):
            ours.append(_toolsweep(sweep, work / f"toolsweep-{i}"))
            seconds, peak, accuracy = _plain(sweep, work / f"plain-{i}")
            theirs.append((seconds, peak))
    wall_ours, wall_plain = statistics.median(s for s, _ in ours), statistics.median(s for s, _ in theirs)
    mem_ours, mem_plain = statistics.median(m for _, m in ours), statistics.median(m for _, m in theirs)
    print(f"toolsweep train : {wall_ours:8.1f} s  peak {mem_ours:7.0f} MB")
    print(f"plain TRL script: {wall_plain:8.1f} s  peak {mem_plain:7.0f} MB  (validation exact_match: "
          f"base {accuracy['base']:.3f}, SFT {accuracy['sft']:.3f}, SFT+DPO {accuracy['final']:.3f})")
    print(f"wall-time ratio {wall_ours / wall_plain:.3f}  peak-memory ratio {mem_ours / mem_plain:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
