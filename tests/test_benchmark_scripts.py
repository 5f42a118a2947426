"""The benchmark scripts are run by hand, so a smoke run here keeps them from rotting unnoticed.

No timing is asserted: figures come from the scripts themselves (see benchmarks/README.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def test_eval_batched_smoke_run_compares_both_paths(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import eval_batched

    assert eval_batched.main(["--smoke-test"]) == 0
    out = capsys.readouterr().out
    assert "speedup" in out and "identical completions  : 8/8" in out
    sys.modules.pop("eval_batched", None)


def test_grid_table_rewrites_the_sweep_file_as_a_from_scratch_grid(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The replayed table must be the sweep users run: its own data and steps, only the grid fields swept."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import grid_table

    from toolsweep.config import load_sweep
    from toolsweep.search_spaces.domains import Grid

    quickstart = BENCHMARKS.parent / "configs" / "quickstart.yaml"
    grid = {"sft.learning_rate": [3e-4, 1e-3], "data.sources.clarify.weight": [0.25, 1.25]}
    sweep = load_sweep(grid_table.grid_sweep(quickstart, grid, ["dpo.beta=0.1"], 2, tmp_path))
    assert sweep.space == {name: Grid(values=tuple(values)) for name, values in grid.items()}
    original = load_sweep(quickstart).spec
    assert sweep.spec.sft.max_steps == original.sft.max_steps and sweep.spec.data.train_examples == original.data.train_examples
    assert sweep.spec.dpo.beta == 0.1
    assert (sweep.spec.search.algorithm, sweep.spec.search.scheduler) == ("grid", "fifo")
    assert sweep.spec.storage.share_stages is False and sweep.spec.resources.cpus_per_trial == 1
    sys.modules.pop("grid_table", None)


def test_grid_table_answers_bad_input_with_the_loaders_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing sweep file, a path through a plain value or a misspelt field stops before any trial runs,
    naming the file or field; a grid value that is not a number names the --grid item."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import grid_table

    from toolsweep.config import SweepFileError

    quickstart = BENCHMARKS.parent / "configs" / "quickstart.yaml"
    with pytest.raises(SweepFileError, match="cannot read the sweep file"):
        grid_table.grid_sweep(tmp_path / "missing.yaml", {"sft.learning_rate": [1e-3]}, [], 2, tmp_path)
    with pytest.raises(SweepFileError, match="model.name is 'builtin:tiny-tool-lm', not a section"):
        grid_table.grid_sweep(quickstart, {"sft.learning_rate": [1e-3]}, ["model.name.x=1"], 2, tmp_path)
    with pytest.raises(SweepFileError, match="sft.learning_rat: unknown key"):
        grid_table.grid_sweep(quickstart, {"sft.learning_rat": [1e-3]}, [], 2, tmp_path)
    with pytest.raises(SystemExit, match="'sft.learning_rate=abc': the values must be numbers"):
        grid_table._grid(["sft.learning_rate=abc"])
    sys.modules.pop("grid_table", None)
