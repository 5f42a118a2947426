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
