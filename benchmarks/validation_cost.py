"""What the validation reports that feed ASHA cost: their seconds as a share of each trial's time.

Reads a finished sweep's run directory (every report Ray Tune recorded, ``tune/*/result.json``). The
reports during SFT and DPO score a small validation subset (``eval.validation_subset``); the last report
is the trial's final evaluation on the whole validation split, which a sweep needs to rank its trials
with or without ASHA, so it is left out here. Target: under 10% of a trial's time.

    python benchmarks/validation_cost.py toolsweep_runs/quickstart
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def trial_shares(run_dir: Path) -> list[tuple[str, float, float]]:
    """(trial, validation seconds during training, trial seconds) for every finished trial."""
    rows = []
    for path in sorted((run_dir / "tune").glob("*/result.json")):
        reports = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if len(reports) < 2:
            continue
        during = sum(r.get("val/seconds", 0.0) for r in reports[:-1])
        rows.append((reports[-1]["trial_id"], during, reports[-1]["cost/wall_seconds"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args()
    rows = trial_shares(args.run_dir)
    if not rows:
        raise SystemExit(f"{args.run_dir}: no trial reports under tune/*/result.json; is this a finished sweep's run dir?")
    for trial, during, total in rows:
        print(f"{trial}: {during:6.1f} s of validation during training / {total:6.1f} s = {during / total:.1%}")
    print(f"mean share over {len(rows)} trials: {statistics.mean(d / t for _, d, t in rows):.1%} (target < 10%)")


if __name__ == "__main__":
    main()
