"""Evaluation sets named in the sweep file: holdouts that never leak, several test sets, metric names checked."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError

from toolsweep.config import SweepFileError, load_sweep
from toolsweep.config.schema import SweepSpec
from toolsweep.data.eval_sets import eval_command, holdout_split, row_key, tool_stratum
from toolsweep.data.loaders import load_examples
from toolsweep.data.prepare import named_test_sets, prepare_data

ROOT = Path(__file__).parents[2]
OWN = ROOT / "examples" / "own_tools"


def _spec(**data: object) -> SweepSpec:
    base = {"sources": {"mine": {"path": str(OWN / "train.jsonl")}}, "train_examples": 64, "preference_pairs": 8,
            "validation_examples": 8, "test_examples": 8}
    return SweepSpec.model_validate({"data": {**base, **data}})


def test_holdout_is_stratified_disjoint_and_independent_of_row_order() -> None:
    rows = load_examples(OWN / "train.jsonl")
    rows = rows + rows[:10]  # duplicated rows must stay on one side
    kept, (val, test) = holdout_split(rows, [0.1, 0.2])
    assert len(kept) + len(val) + len(test) == len(rows)
    keys = [{row_key(r) for r in part} for part in (kept, val, test)]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    # every tool stratum with enough distinct rows gives each set about its share
    strata, held = Counter(tool_stratum(r) for r in {row_key(r): r for r in rows}.values()), Counter(map(tool_stratum, val))
    for stratum, n in strata.items():
        assert abs(held[stratum] - 0.1 * n) <= 1, stratum
    again = holdout_split(list(reversed(rows)), [0.1, 0.2])
    assert [sorted(map(row_key, part)) for part in (again[0], *again[1])] == \
        [sorted(map(row_key, part)) for part in (kept, val, test)]


def test_a_holdout_validation_never_shares_a_row_with_training() -> None:
    spec = _spec(train_examples=400, validation={"holdout": 0.2},
                 test={"mine": {"path": str(OWN / "test.jsonl"), "examples": 30}, "bundled": {"builtin": "test"}})
    data = prepare_data(spec)
    assert not {row_key(r) for r in data.train} & {row_key(r) for r in data.validation}
    assert 80 <= len(data.validation) <= 110  # 20 % of 480 rows, rounded per tool stratum
    assert [r["id"] for r in data.test] == [r["id"] for r in load_examples(OWN / "test.jsonl")[:30]]
    assert list(data.test_slices) == ["bundled"] and len(data.test_slices["bundled"]) == 8
    assert spec.data.test_prefixes() == {"mine": "test", "bundled": "test/bundled"}
    # what the variants table and export re-score is exactly what the trial scored
    sets = named_test_sets(spec)
    assert [r["id"] for r in sets["mine"]] == [r["id"] for r in data.test]


def test_the_default_sets_are_the_bundled_test_and_its_unseen_phrasing() -> None:
    spec = SweepSpec.model_validate({"data": {"test_examples": 8, "validation_examples": 4}})
    data = prepare_data(spec)
    assert len(data.test) == 8 and list(data.test_slices) == ["unseen_phrasing"]
    assert all("-unseen-" in r["id"] for r in data.test_slices["unseen_phrasing"])


@pytest.mark.parametrize(("data", "message"), [
    ({"sources": {"simple": {"builtin": "simple"}}, "validation": {"holdout": 0.1}}, "every source is builtin"),
    ({"validation": {"holdout": 0.6}, "test": {"t": {"holdout": 0.5}}}, "add up to 1 or more"),
    ({"test": {"exact_match": {"builtin": "test"}}}, "not a metric name"),
    ({"test": {"t": {"builtin": "test", "path": "x.jsonl"}}}, "exactly one of"),
    ({"test": {"t": {"bfcl": ["simple_java"]}}}, "unknown categories ['simple_java']"),
    ({"test": {}}, "name at least one set"),
])
def test_bad_evaluation_sets_are_rejected_with_the_reason(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _spec(**data)


def test_search_metric_must_be_one_the_sweep_reports(tmp_path: Path) -> None:
    sweep = tmp_path / "s.yaml"
    sweep.write_text(f"data:\n  sources:\n    mine: {{path: {OWN / 'train.jsonl'}}}\n  test:\n"
                     f"    mine: {{path: {OWN / 'test.jsonl'}}}\n    bundled: {{builtin: test}}\n"
                     "search:\n  metric: test/unseen_phrasing/exact_match\n")
    with pytest.raises(SweepFileError) as info:
        load_sweep(sweep)
    assert ":8: search.metric: this sweep does not report 'test/unseen_phrasing/exact_match'" in str(info.value)
    assert "test/bundled/exact_match" in str(info.value)
    for metric in ("test/bundled/exact_match", "test/exact_match/simple", "val/arg_f1", "sft/loss", "cost/cpu_seconds"):
        load_sweep(sweep, [f"search.metric={metric}"])


def test_model_card_command_rescores_each_kind_of_set() -> None:
    spec = _spec(test={"mine": {"path": str(OWN / "test.jsonl"), "examples": 20},
                       "b": {"bfcl": ["simple_python", "multiple"], "examples": 5}, "u": {"builtin": "unseen_phrasing"}})
    sets = spec.data.test
    assert eval_command("OUT", sets["mine"], 8, 160) == \
        f"toolsweep eval --model OUT --data {OWN / 'test.jsonl'} --n 20 --max-new-tokens 160"
    assert eval_command("OUT", sets["b"], 8, 96).endswith("--suite bfcl --categories simple_python,multiple --n 5 --max-new-tokens 96")
    assert "--data builtin:unseen_phrasing --n 8" in eval_command("OUT", sets["u"], 8, 96)


def test_the_committed_own_tools_files_are_what_the_script_writes(tmp_path: Path) -> None:
    script = (OWN / "make_data.py").read_text().replace("HERE = Path(__file__).parent", f"HERE = Path({str(tmp_path)!r})")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, cwd=ROOT)
    for name in ("train.jsonl", "test.jsonl"):
        assert (tmp_path / name).read_bytes() == (OWN / name).read_bytes(), name


def test_relative_paths_mean_what_they_meant_where_the_command_ran(tmp_path: Path, monkeypatch) -> None:
    """Trials run in their own working directories: a sweep file's relative paths are anchored at load."""
    (tmp_path / "d").mkdir()
    for name in ("train.jsonl", "test.jsonl"):
        (tmp_path / "d" / name).write_bytes((OWN / name).read_bytes())
    (tmp_path / "s.yaml").write_text("data:\n  sources:\n    mine: {path: d/train.jsonl}\n  validation: {holdout: 0.1}\n"
                                     "  test:\n    mine: {path: d/test.jsonl}\n")
    monkeypatch.chdir(tmp_path)
    spec = load_sweep("s.yaml").spec
    monkeypatch.chdir(ROOT)  # a trial's working directory: the paths still name the files
    assert spec.data.sources["mine"].path == str(tmp_path / "d" / "train.jsonl")
    assert spec.data.test["mine"].path == str(tmp_path / "d" / "test.jsonl")
    assert spec.model.name == "builtin:tiny-tool-lm"
    assert len(prepare_data(spec.model_copy(update={"data": spec.data.model_copy(update={"train_examples": 8})})).test) == 100
