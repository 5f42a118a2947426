"""BFCL's quirks that our scorer once missed, and which rules a caller gets (no BFCL wheel needed).

Each verdict here is what BFCL's ``ast_checker`` (bfcl-eval 2026.3.23) says for the same input; the
agreement test (``test_eval_bfcl_agreement.py``) checks that on BFCL's whole data set.
"""

from __future__ import annotations

from typing import Any

import pytest

from toolsweep.evaluation import ParsedOutput, ToolCall, score_output
from toolsweep.evaluation.bfcl_rules import check_argument


def _fn(**props: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "f", "description": "", "parameters": {"type": "dict", "properties": props, "required": []}}]


def _score(args: dict[str, Any], truth: dict[str, list[Any]], functions, **kw: Any):
    return score_output(ParsedOutput(calls=[ToolCall("f", args)]), [{"f": truth}], functions, **kw)


FLOATS = _fn(xs={"type": "array", "items": {"type": "float"}})
INTS = _fn(xs={"type": "array", "items": {"type": "integer"}})


@pytest.mark.parametrize("bfcl_exact", [True, False])
@pytest.mark.parametrize(("functions", "given", "truth", "passed"), [
    (FLOATS, [1.5, 2], [[1.5, 2.0]], False),   # an int in a float array: type_error:nested
    (FLOATS, [1.5, 2.0], [[1.5, 2.0]], True),
    (FLOATS, [1, 2.5], [[1, 2.5]], True),       # the ground truth's own first item type is accepted too
    (INTS, [1, 2.0], [[1, 2]], False),          # a float in an int array
    (FLOATS, [1, 2], ["", [1.0, 2.0]], True),   # an omittable array skips the item type check
])
def test_numbers_of_the_other_kind_inside_arrays(functions, given, truth, passed, bfcl_exact):
    result = _score({"xs": given}, {"xs": truth}, functions, bfcl_exact=bfcl_exact)
    assert result.passed is passed, result.errors
    assert passed or result.error_kind == "wrong_type"


def test_empty_array_is_an_omitted_optional_array():
    tags = _fn(tags={"type": "array", "items": {"type": "string"}})
    assert _score({"tags": []}, {"tags": ["", ["a"]]}, tags, bfcl_exact=True).passed
    assert _score({"tags": []}, {"tags": [["a"], ""]}, tags, bfcl_exact=False).passed
    assert _score({"tags": []}, {"tags": [["a"]]}, tags, bfcl_exact=True).error_kind == "wrong_value"
    rows = _fn(rows={"type": "array", "items": {"type": "dict"}})  # arrays of dicts too
    assert _score({"rows": []}, {"rows": ["", [{"k": ["v"]}]]}, rows, bfcl_exact=True).passed


def test_true_equals_one_inside_dicts_but_is_not_an_integer():
    functions = _fn(opts={"type": "dict", "properties": {"verbose": {"type": "integer"}}}, n={"type": "integer"})
    for exact in (True, False):
        assert _score({"opts": {"verbose": True}}, {"opts": [{"verbose": [1]}]}, functions, bfcl_exact=exact).passed
        assert _score({"opts": {"verbose": 0}}, {"opts": [{"verbose": [False]}]}, functions, bfcl_exact=exact).passed
        assert not _score({"opts": {"verbose": 2}}, {"opts": [{"verbose": [True]}]}, functions,
                          bfcl_exact=exact).passed
        assert _score({"n": True}, {"n": [1]}, functions, bfcl_exact=exact).error_kind == "wrong_type"


def test_a_variable_in_the_ground_truth_is_compared_exactly():
    """BFCL's parallel_multiple_21: an array parameter whose ground truth is a variable name (a string)."""
    functions = FLOATS
    assert _score({"xs": "data['sales']"}, {"xs": ["data['sales']"]}, functions, bfcl_exact=True).passed
    upper = _score({"xs": "DATA['SALES']"}, {"xs": ["data['sales']"]}, functions, bfcl_exact=True)
    assert upper.error_kind == "wrong_value"
    # where the ground truth has the declared type, strings are normalised as usual
    assert check_argument("s", "NEW YORK, ny", ["New York, NY"], {"type": "string"}) is None


BIPARTITE_TRUTH = [{"f": {"city": ["Oslo", "Lima"]}}, {"f": {"city": ["Oslo"]}}]
BIPARTITE_OUTPUT = ParsedOutput(calls=[ToolCall("f", {"city": "Oslo"}), ToolCall("f", {"city": "Lima"})])
CITY = _fn(city={"type": "string"})


def test_bfcl_tasks_get_bfcl_first_fit_and_the_project_a_matching():
    """First fit gives "Oslo" to the first expected call, and the second finds nothing; a pairing exists."""
    def passed(**kw: Any) -> bool:
        return score_output(BIPARTITE_OUTPUT, BIPARTITE_TRUTH, CITY, **kw).passed

    assert not passed(subcategory="parallel")  # a BFCL task: BFCL's verdict
    assert not passed(subcategory="live_parallel_multiple")
    assert passed()  # a contract example (no BFCL subcategory): the project's rules
    assert passed(subcategory="parallel", bfcl_exact=False)
    assert not passed(bfcl_exact=True)


def test_project_rules_read_nested_ground_truth_that_bfcl_cannot():
    """Our own ground truth writes dicts inside arrays in ground-truth form; BFCL compares them with ``==``."""
    functions = _fn(rows={"type": "array"}, cfg={"type": "dict"})
    args = {"rows": [{"k": 1}, {"k": 2}], "cfg": {"inner": {"Name": "Ada Lovelace"}}}
    truth = {"rows": [[{"k": [1]}, {"k": [2]}]], "cfg": [{"inner": [{"Name": ["ada lovelace"]}]}]}
    assert _score(args, truth, functions).passed
    result = _score(args, truth, functions, bfcl_exact=True)
    assert result.error_kinds == ["wrong_value", "wrong_value"], result.errors


def test_an_undecodable_answer_to_an_irrelevance_task_passes_only_under_bfcl_rules():
    broken = ParsedOutput(calls=[], malformed=True, errors=["unterminated <tool_call>"])
    bfcl = score_output(broken, [], _fn(), subcategory="irrelevance")
    ours = score_output(broken, [], _fn(), category="irrelevance")
    assert bfcl.passed and not ours.passed and ours.error_kind == "malformed"
    assert not score_output(broken, [], _fn(), subcategory="irrelevance", irrelevance_ignores_malformed=False).passed
