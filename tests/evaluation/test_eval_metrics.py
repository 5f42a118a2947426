"""Aggregation on hand-made results, the flat view for Ray Tune, and the failures file."""

from __future__ import annotations

import json
import math

from toolsweep.evaluation import ERROR_KINDS, ExampleResult, aggregate, write_failures


def _result(id_, category, passed, kind=None, *, sel=True, wf=True, tp=0, fp=0, fn=0, n_exp=1, sub=None):
    return ExampleResult(id=id_, category=category, passed=passed, error_kind=kind,
                         error_kinds=[kind] if kind else [], errors=[f"{kind} happened"] if kind else [],
                         tool_selection_correct=sel, well_formed=wf, arg_tp=tp, arg_fp=fp, arg_fn=fn,
                         n_expected_calls=n_exp, n_predicted_calls=n_exp, subcategory=sub,
                         raw_output="<tool_call>...", prompt="user text")


RESULTS = [
    _result("a", "simple", True, tp=2, sub="simple_python"),
    _result("b", "simple", False, "wrong_value", tp=1, fp=1, fn=1, sub="simple_python"),
    _result("c", "multiple", False, "wrong_tool", sel=False, fp=2, fn=2),
    _result("d", "parallel", True, tp=4, n_exp=2),
    _result("e", "irrelevance", True, n_exp=0),
    _result("f", "irrelevance", False, "malformed", wf=False, n_exp=0),
]


def test_aggregate_numbers():
    m = aggregate(RESULTS)
    assert m.n_examples == 6
    assert m.exact_match.value == 3 / 6
    assert m.tool_selection.value == 5 / 6
    assert m.arg_precision.value == 7 / 10  # tp 7, fp 3
    assert m.arg_recall.value == 7 / 10  # tp 7, fn 3
    assert math.isclose(m.arg_f1, 0.7)
    assert m.well_formed.value == 5 / 6
    assert m.irrelevance_accuracy.value == 1 / 2
    assert m.per_category["simple"].value == 0.5 and m.per_category["simple_python"].value == 0.5
    assert m.per_category["parallel"].value == 1.0
    assert m.error_counts == {k: {"wrong_value": 1, "wrong_tool": 1, "malformed": 1}.get(k, 0) for k in ERROR_KINDS}


def test_flat_dict_keys_and_directions():
    m = aggregate(RESULTS)
    flat = m.to_flat_dict()
    for key in ["exact_match", "tool_selection", "arg_precision", "arg_recall", "well_formed",
                "irrelevance_accuracy", "exact_match/simple", "exact_match/multiple", "exact_match/parallel",
                "exact_match/irrelevance", "exact_match/simple_python", "errors/wrong_tool", "errors/missed_call"]:
        assert key in flat, key
    assert all(isinstance(v, float) for v in flat.values())
    directions = m.higher_is_better()
    assert set(flat) <= set(directions)
    assert directions["exact_match"] and not directions["errors/wrong_tool"]


def test_empty_denominators_are_nan_and_left_out_of_the_flat_view():
    m = aggregate([_result("a", "simple", True, tp=1)])
    assert math.isnan(m.irrelevance_accuracy.value)
    assert "irrelevance_accuracy" not in m.to_flat_dict()
    empty = aggregate([])
    assert empty.n_examples == 0 and "exact_match" not in empty.to_flat_dict()


def test_failures_file_has_one_line_per_failure(tmp_path):
    path = tmp_path / "sub" / "failures.jsonl"
    assert write_failures(path, RESULTS) == 3
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["b", "c", "f"]
    assert set(rows[0]) >= {"id", "category", "prompt", "raw_output", "parsed_calls", "expected", "error_kind",
                            "messages"}
    assert rows[1]["error_kind"] == "wrong_tool"
