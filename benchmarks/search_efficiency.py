"""Search efficiency at a fixed compute budget: random, grid, TPE and TPE+ASHA on one measured grid.

Training every configuration again for every searcher and seed would cost hours on a CPU, so this is a
tabular benchmark (as in HPOBench or NAS-Bench): ``benchmarks/grid_table.py --table grid.json`` trains
the exhaustive grid of a sweep file once (``benchmarks/stage_sharing.py --table`` writes the same format),
recording every validation report each trial made and the trial-seconds it had used at that report.
Here Ray Tune's real searchers and schedulers (built by ``toolsweep.sweeps`` from the same ``search``
section a sweep file has) run against that table: a replayed trial reports the recorded
values in order, and when ASHA stops it, it is charged the trial-seconds recorded at its last report.

Per searcher and seed: trials run one at a time (so the searcher sees every result before its next
suggestion); after each trial the incumbent is the finished trial with the best validation score, and
the figure is that incumbent's test score. Reported: the budget (trial-seconds, and as a fraction of the
exhaustive grid's) each needs to come within 1 point of the test score of the grid's best configuration,
and the incumbent's test score at 25/50/100 % of the grid's budget. Target: TPE+ASHA <= 40 %.

    python benchmarks/search_efficiency.py --table grid.json [--metric exact_match] [--seeds 0,1,2] [--grace-period 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

METHODS = {"random": ("random", "fifo"), "grid": ("grid", "fifo"), "tpe": ("optuna", "fifo"),
           "tpe+asha": ("optuna", "asha")}


def _key(config: dict[str, Any], names: list[str]) -> tuple:
    return tuple(round(float(config[n]), 12) for n in names)


def load_table(path: Path, metric: str) -> tuple[dict[str, list[float]], dict[tuple, dict[str, Any]]]:
    """(space, {config key: {"reports": [(val, cost)], "test": float, "cost": float}})."""
    table = json.loads(path.read_text())
    space = table["space"]
    names = sorted(space)
    rows: dict[tuple, dict[str, Any]] = {}
    for trial in table["trials"]:
        reports = [(r[f"val/{metric}"], r["time_total_s"]) for r in trial["reports"] if f"val/{metric}" in r]
        rows[_key(trial["config"], names)] = {"reports": reports, "test": trial["metrics"][f"test/{metric}"],
                                              "val": trial["metrics"][f"val/{metric}"],
                                              "cost": trial["reports"][-1]["time_total_s"]}
    return space, rows


def replay_trainable(rows: dict[tuple, dict[str, Any]], names: list[str]) -> Any:
    """A Tune function trainable that reports a configuration's recorded validation curve."""
    from ray import tune

    def replay(config: dict[str, Any]) -> None:
        row = rows[_key(config, names)]
        for i, (val, cost) in enumerate(row["reports"]):
            last = i == len(row["reports"]) - 1
            tune.report({"val": val, "cost": cost, "finished": last, "clock": time.time_ns()})

    return replay


def run_search(method: str, seed: int, space: dict[str, list[float]], rows: dict[tuple, dict[str, Any]],
               budget: float, storage: Path, asha: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """The trials one searcher ran, in order: configuration key, cost charged, finished or stopped."""
    from ray import tune

    from toolsweep.config.schema import SchedulerConfig, SearchConfig
    from toolsweep.search_spaces.domains import Choice
    from toolsweep.sweeps.searchers import build_scheduler, build_searcher

    names = sorted(space)
    algorithm, scheduler_name = METHODS[method]
    reports = max(len(r["reports"]) for r in rows.values())
    cheapest = min(r["cost"] for r in rows.values())
    # Enough trials to spend the whole budget even if ASHA stops most of them at the first rung.
    samples = 1 if algorithm == "grid" else int(budget / (cheapest / reports)) + 1
    search = SearchConfig(algorithm=algorithm, scheduler=scheduler_name, num_samples=samples, metric="val",
                          mode="max", max_concurrent_trials=1, seed=seed,
                          scheduler_options=SchedulerConfig(**(asha or {})))
    domains = {n: Choice(values=list(space[n])) for n in names}
    search_alg, param_space = build_searcher(search, domains)
    tuner = tune.Tuner(
        replay_trainable(rows, names),
        param_space=param_space,
        tune_config=tune.TuneConfig(metric="val", mode="max", search_alg=search_alg, num_samples=samples,
                                    scheduler=build_scheduler(search, reports),
                                    max_concurrent_trials=1 if algorithm == "optuna" else None),
        run_config=tune.RunConfig(name=f"{method}-{seed}", storage_path=str(storage), verbose=0,
                                  stop=_budget_stop(budget)),
    )
    results = tuner.fit()
    trials = []
    for result in results:
        if result.metrics is None or "cost" not in result.metrics:
            continue
        trials.append({"key": _key(result.config, names), "cost": result.metrics["cost"],
                       "finished": bool(result.metrics["finished"]), "clock": result.metrics["clock"]})
    return sorted(trials, key=lambda t: t["clock"])


def _budget_stop(budget: float) -> Any:
    """A Tune stopper that ends the experiment once the trial-seconds charged so far reach ``budget``."""
    from ray.tune.stopper import Stopper

    class BudgetStop(Stopper):
        def __init__(self) -> None:
            self.spent = 0.0
            self.charged: dict[str, float] = {}

        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            self.spent += result["cost"] - self.charged.get(trial_id, 0.0)
            self.charged[trial_id] = result["cost"]
            return False

        def stop_all(self) -> bool:
            return self.spent >= budget

    return BudgetStop()


def incumbent_curve(trials: list[dict[str, Any]], rows: dict[tuple, dict[str, Any]]) -> list[tuple[float, float | None]]:
    """(cumulative trial-seconds, incumbent's test score) after each trial; the incumbent is the finished
    trial with the best validation score so far (ties: the earlier one)."""
    spent, best_val, best_test, curve = 0.0, None, None, []
    for trial in trials:
        spent += trial["cost"]
        row = rows[trial["key"]]
        if trial["finished"] and (best_val is None or row["val"] > best_val):
            best_val, best_test = row["val"], row["test"]
        curve.append((spent, best_test))
    return curve


def budget_to_reach(curve: list[tuple[float, float | None]], target: float) -> float | None:
    return next((spent for spent, test in curve if test is not None and test >= target), None)


def score_at(curve: list[tuple[float, float | None]], budget: float) -> float | None:
    reached = [test for spent, test in curve if spent <= budget and test is not None]
    return reached[-1] if reached else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="written by benchmarks/grid_table.py")
    parser.add_argument("--metric", default="exact_match", help="val/<metric> picks, test/<metric> scores")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--storage", default="/tmp/toolsweep_search_efficiency")
    parser.add_argument("--grace-period", type=int, default=1,
                        help="ASHA's first rung, in reports, as the sweep file's scheduler_options (quickstart: 3)")
    parser.add_argument("--reduction-factor", type=float, default=2.0)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no per-experiment banners: this prints a table
    import optuna
    import ray

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    try:
        space, rows = load_table(Path(args.table), args.metric)
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"{args.table}: not a table from `benchmarks/grid_table.py` or `stage_sharing.py --table` with "
                         f"val/{args.metric} and test/{args.metric} in every trial ({type(exc).__name__}: {exc})") from exc
    grid_budget = sum(r["cost"] for r in rows.values())
    best = max(rows.values(), key=lambda r: r["val"])
    target = best["test"] - 0.01
    spread = {r["test"] for r in rows.values()}
    print(f"{len(rows)} configurations, exhaustive grid {grid_budget:.0f} trial-seconds; grid's best by "
          f"val/{args.metric}: test {best['test']:.3f}; test scores span {min(spread):.3f}..{max(spread):.3f}")
    if len({r["val"] for r in rows.values()}) == 1:
        print(f"note: val/{args.metric} is equal for every configuration, so no searcher can do better than "
              f"its first finished trial; this table cannot separate the searchers on this metric")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{'method':>9} {'budget to within 1 pt (median of seeds)':>40} {'@25%':>6} {'@50%':>6} {'@100%':>6}")
    for method in args.methods.split(","):
        needs, at = [], {0.25: [], 0.5: [], 1.0: []}
        for seed in seeds if method != "grid" else seeds[:1]:  # the grid's order does not depend on the seed
            trials = run_search(method, seed, space, rows, grid_budget, Path(args.storage),
                                {"grace_period": args.grace_period, "reduction_factor": args.reduction_factor})
            curve = incumbent_curve(trials, rows)
            spent = budget_to_reach(curve, target)
            needs.append(spent if spent is not None else float("inf"))
            for fraction, scores in at.items():
                scores.append(score_at(curve, fraction * grid_budget))
        need = statistics.median(needs)
        shown = f"{need:.0f} s = {need / grid_budget:.0%} of grid" if need != float("inf") else "not reached"
        cells = [statistics.median([v for v in vals if v is not None]) if any(v is not None for v in vals) else None
                 for vals in at.values()]
        per_seed = ", ".join(f"{n / grid_budget:.0%}" if n != float("inf") else "never" for n in needs)
        print(f"{method:>9} {shown:>40} " + " ".join(f"{c:>6.3f}" if c is not None else f"{'-':>6}" for c in cells)
              + f"   per seed: {per_seed}", flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
