"""Measure a sweep file's search space as an exhaustive grid: the lookup table that
``benchmarks/search_efficiency.py`` replays.

The searchers are compared on a table rather than on fresh sweeps because training every configuration
again for every searcher and seed would cost hours on a CPU. The table is only worth replaying if it is
the sweep users run, so this takes the sweep file itself (the quickstart by default), replaces each
``--grid`` field with a ``{grid: [...]}`` and every other searched field with its ``--set`` value, and runs
every configuration from scratch (``storage.share_stages: false``, FIFO, so no trial is stopped and each
trial's cost is its own), ``--parallel`` at a time on one CPU each. Every validation report of every trial
is kept, with the trial-seconds spent by then, so ASHA's rungs can be replayed.

    python benchmarks/grid_table.py [--sweep configs/quickstart.yaml] \\
        --grid sft.learning_rate=3e-4,6e-4,1.2e-3,2.4e-3 --grid data.sources.clarify.weight=0.25,0.75,1.25 \\
        --set dpo.beta=0.1 --table grid.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run_sweep_summary(sweep: Path) -> dict[str, Any]:
    """Run a sweep file as `toolsweep run` runs it, without the analysis that follows (variants, report),
    and return its summary with every report each trial made (``trial["reports"]``)."""
    code = ("import sys; from toolsweep.config import load_sweep; from toolsweep.sweeps.driver import run_sweep; "
            "run_sweep(load_sweep(sys.argv[1]), analyze=False)")
    done = subprocess.run([sys.executable, "-c", code, str(sweep)], check=False, capture_output=True, text=True)
    if done.returncode != 0:  # the captured stderr is the only account of what failed
        raise SystemExit(f"the sweep {sweep} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    summary = json.loads((sweep.parent / sweep.stem / "summary.json").read_text())
    results = sweep.parent / sweep.stem / "tune"
    for trial in summary["trials"]:
        path = next(results.glob(f"*_{trial['trial_id']}_*/result.json"))
        trial["reports"] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return summary


def lookup_table(summary: dict[str, Any], space: dict[str, list[float]], about: dict[str, Any]) -> dict[str, Any]:
    """The replayable table: per trial its configuration, final metrics and validation reports."""
    keep = ("training_iteration", "time_total_s", "cost/wall_seconds")
    return {**about, "space": space,
            "trials": [{"config": t["config"], "metrics": t["metrics"],
                        "reports": [{k: v for k, v in r.items() if k in keep or k.startswith(("val/", "test/"))}
                                    for r in t["reports"]]} for t in summary["trials"]]}


def grid_sweep(source: Path, grid: dict[str, list[float]], fixed: list[str], parallel: int, work: Path) -> Path:
    """The sweep file rewritten as an exhaustive from-scratch grid over ``grid``, ``fixed`` being
    ``--set``-style overrides (``dpo.beta=0.1``). The file is read and overridden by the loader's own
    functions, and the result validated here, so a missing or malformed file, a misspelt field or a path
    through a plain value fails with the loader's message before any trial runs, not inside the sweep's
    subprocess. Each grid field is the override ``FIELD={grid: [V1, V2]}``."""
    sys.path.insert(0, str(ROOT))
    from toolsweep.config import load_sweep
    from toolsweep.config.loader import apply_overrides
    from toolsweep.config.yaml_reader import parse_yaml, read_sweep_text

    data = parse_yaml(read_sweep_text(source), str(source)).data
    if not isinstance(data, dict):
        load_sweep(source)  # an empty file or a top level that is not a mapping: the loader says which
    apply_overrides(data, fixed + [f"{field}={{grid: {json.dumps(values)}}}" for field, values in grid.items()])
    data["name"] = f"{data.get('name', 'sweep')}-grid"
    data["search"] = {"algorithm": "grid", "scheduler": "fifo", "num_samples": 1,
                      "metric": data.get("search", {}).get("metric", "val/exact_match"),
                      "mode": data.get("search", {}).get("mode", "max"), "max_concurrent_trials": parallel}
    data.setdefault("resources", {})["cpus_per_trial"] = 1
    data["storage"] = {"path": str(work), "share_stages": False}
    data["wandb"] = {"mode": "disabled"}
    path = work / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    load_sweep(path)
    return path


def _grid(items: list[str]) -> dict[str, list[float]]:
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep:
            raise SystemExit(f"--grid {item!r}: write FIELD=V1,V2,..., e.g. --grid sft.learning_rate=3e-4,1e-3")
        try:
            grid[key] = [float(v) for v in values.split(",")]
        except ValueError:
            raise SystemExit(f"--grid {item!r}: the values must be numbers, e.g. --grid {key}=3e-4,1e-3") from None
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", default=str(ROOT / "configs" / "quickstart.yaml"))
    parser.add_argument("--grid", action="append", default=[], help="FIELD=V1,V2,... (repeatable)")
    parser.add_argument("--set", action="append", default=[], help="FIELD=VALUE in YAML (repeatable)")
    parser.add_argument("--parallel", type=int, default=2, help="trials at once, one CPU each")
    parser.add_argument("--table", required=True, help="write the table here (JSON)")
    args = parser.parse_args()
    grid = _grid(args.grid)
    if not grid:
        raise SystemExit("give at least one --grid FIELD=V1,V2,...")
    started = time.perf_counter()
    from toolsweep.config.errors import SweepFileError

    with tempfile.TemporaryDirectory() as tmp:
        try:
            sweep = grid_sweep(Path(args.sweep), grid, args.set, args.parallel, Path(tmp))
        except SweepFileError as exc:
            raise SystemExit(f"{args.sweep} with --grid/--set: {exc}") from None
        summary = run_sweep_summary(sweep)
    about = {"sweep": args.sweep, "fixed": args.set, "wall_seconds": round(time.perf_counter() - started, 1)}
    Path(args.table).write_text(json.dumps(lookup_table(summary, grid, about), indent=1))
    print(f"{len(summary['trials'])} configurations in {about['wall_seconds']:.0f} s -> {args.table}")
    names = sorted(grid)
    print(" ".join(f"{n:>28}" for n in names) + "   val exact  test exact  trial-seconds")
    for t in sorted(summary["trials"], key=lambda t: tuple(t["config"][n] for n in names)):
        m = t["metrics"]
        print(" ".join(f"{t['config'][n]:>28.4g}" for n in names)
              + f"   {m['val/exact_match']:9.3f}  {m['test/exact_match']:10.3f}  {t['reports'][-1]['time_total_s']:13.0f}")


if __name__ == "__main__":
    main()
