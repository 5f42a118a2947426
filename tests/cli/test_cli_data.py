"""validate, train, run and eval --data answer the same about user data files, before anything heavy starts;
model.trust_remote_code is announced and cannot be searched (issue 20, part B)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from toolsweep.cli import main

ROOT = Path(__file__).parents[2]
BAD = ROOT / "tests" / "data" / "fixtures" / "bad"
HOSTILE = BAD / "hostile_rows.jsonl"


def _sweep(tmp_path: Path, body: str) -> str:
    path = tmp_path / "sweep.yaml"
    path.write_text("name: t\n" + body)
    return str(path)


@pytest.fixture
def no_heavy_verbs(monkeypatch: pytest.MonkeyPatch) -> None:
    """train and run must stop before they import the trainer or Ray: stand-ins fail the test if reached."""

    def reached(*args: object, **kwargs: object) -> None:
        raise AssertionError("the data check should have stopped this verb first")

    for name in ("toolsweep.sweeps.driver", "toolsweep.trainers.console", "toolsweep.trainers.pipeline"):
        module = types.ModuleType(name)
        module.run_sweep = module.run_pipeline = module.ProgressPrinter = module.stage_table = reached  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, name, module)


def test_validate_reports_bad_rows_by_reason_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", _sweep(tmp_path, f"data:\n  sources:\n    mine: {{path: {HOSTILE}}}\n")]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and f"data.sources.mine  {HOSTILE}: 7 of 8 rows unusable, 1 usable" in out
    assert f"4 malformed tool schemas (lines 2, 3, 4, 5), first: {HOSTILE}:2: tool 'get_weather': 'parameters'" in out
    assert f"1 missing field (line 6), first: {HOSTILE}:6: missing field 'tools'" in out


@pytest.mark.parametrize(("body", "says"), [
    (f"data:\n  sources:\n    mine: {{path: {BAD / 'empty.jsonl'}}}\n", "empty.jsonl has no rows (it is empty or blank)"),
    (f"data:\n  sources:\n    mine: {{path: {BAD / 'all_bad.jsonl'}}}\n", "all_bad.jsonl has no usable rows: all 2 were"),
    (f"data:\n  strict: true\n  sources:\n    mine: {{path: {HOSTILE}}}\n",
     "data.strict is true and these files have unusable rows: data.sources.mine (7 of 8)"),
    (f"data:\n  preferences: {{path: {BAD / 'empty.jsonl'}}}\n", "data.preferences: "),
    (f"eval:\n  when2call: {BAD / 'all_bad.jsonl'}\n", "eval.when2call: "),
])
@pytest.mark.parametrize("verb", ["validate", "train", "run"])
def test_unusable_data_stops_every_verb_with_the_same_answer(verb: str, body: str, says: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str], no_heavy_verbs) -> None:
    assert main([verb, _sweep(tmp_path, body)]) == 2
    captured = capsys.readouterr()
    assert "the sweep's data cannot be used:" in captured.err and says in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert not captured.err.startswith("\n")  # no empty report line before the answer


def test_eval_data_gives_the_same_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "MISSING.jsonl"
    assert main(["eval", "--model", "builtin:tiny-tool-lm", "--data", str(missing)]) == 2  # was FileNotFoundError
    assert f"--data: data file {missing} does not exist; check the path" in capsys.readouterr().err
    assert main(["eval", "--model", "builtin:tiny-tool-lm", "--data", str(BAD / "empty.jsonl")]) == 2
    assert capsys.readouterr().err.strip() == (f"--data: {BAD / 'empty.jsonl'} has no rows (it is empty or blank); put "
                                               "one JSON object per line in it")
    assert main(["eval", "--model", "builtin:tiny-tool-lm", "--data", str(BAD / "all_bad.jsonl")]) == 2
    assert "all_bad.jsonl has no usable rows: all 2 were rejected" in capsys.readouterr().err

    from toolsweep.evaluation.command import load_eval_examples

    assert len(load_eval_examples(str(HOSTILE), None)) == 1
    assert f"4 malformed tool schemas (lines 2, 3, 4, 5), first: {HOSTILE}:2:" in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["validate", "train", "run"])
def test_trust_remote_code_is_announced(verb: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        no_heavy_verbs) -> None:
    # The empty file stops train and run right after the warning, so nothing trains here.
    body = f"model:\n  trust_remote_code: true\ndata:\n  sources:\n    mine: {{path: {BAD / 'empty.jsonl'}}}\n"
    main([verb, _sweep(tmp_path, body)])
    lines = [line for line in capsys.readouterr().err.splitlines() if "trust_remote_code" in line]
    assert lines == [("warning: model.trust_remote_code is true: the model's own Python code (from builtin:tiny-tool-lm) "
                     "will run on this machine, and on every machine that runs a trial, when the model loads; keep it "
                     "only if you trust that repository; pin a reviewed commit with model.revision")]


def test_no_warning_without_trust_remote_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", _sweep(tmp_path, "seed: 1\n")]) == 0
    assert "trust_remote_code" not in capsys.readouterr().err


@pytest.mark.parametrize("expression", ["{choice: [false, true]}", "{grid: [true, false]}", "{choice: [true]}"])
def test_trust_remote_code_cannot_be_searched(expression: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = _sweep(tmp_path, f"model:\n  trust_remote_code: {expression}\n")
    assert main(["validate", path]) == 2
    assert (f"{path}:3: model.trust_remote_code: cannot be a search expression: running a model repository's own "
            "Python code is a decision about this machine") in capsys.readouterr().err
    assert main(["validate", _sweep(tmp_path, "seed: 1\n"), "--set", f"model.trust_remote_code={expression}"]) == 2
    assert "model.trust_remote_code: cannot be a search expression" in capsys.readouterr().err


def test_validate_stays_offline_for_a_hub_set_that_is_not_cached(tmp_path: Path) -> None:
    path = _sweep(tmp_path, "data:\n  sources:\n    hubby: {hub: someone/not-cached, format: xlam}\n")
    code = ("import sys, json, contextlib, io\nfrom toolsweep.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()) as out:\n    status = main(['validate', {path!r}])\n"
            "print(json.dumps([status, out.getvalue(), 'datasets' in sys.modules]))\n")
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    status, out, imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert status == 0 and not imported
    assert ("data.sources.hubby  hub someone/not-cached (train): not in the local datasets cache, so its rows are "
            "checked when a trial loads it") in out
