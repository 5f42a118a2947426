"""Scorer: golden cases, one deliberately broken variant per error kind, ground-truth conversion."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from toolsweep.data import builtin_dataset
from toolsweep.data.bfcl import CATEGORY_GROUPS
from toolsweep.evaluation import (
    ERROR_KINDS,
    EvalTask,
    ToolCall,
    aggregate,
    calls_from_ground_truth,
    ground_truth_from_example,
    ground_truth_issues,
    load_bfcl,
    parse_tool_calls,
    render_calls,
    score_output,
)
from toolsweep.evaluation.bfcl_rules import standardize_string
from toolsweep.evaluation.scoring import function_docs
from toolsweep.evaluation.tasks import as_tasks
from toolsweep.evaluation.testing import synthetic_examples

GOLDEN = json.loads((Path(__file__).parent / "testdata" / "scorer_golden.json").read_text())


@pytest.mark.parametrize("case", GOLDEN, ids=[c["name"] for c in GOLDEN])
def test_scorer_golden(case):
    if "example" in case:
        truth, functions = ground_truth_from_example(case["example"]), case["example"]["tools"]
    else:
        truth, functions = case["ground_truth"], case["functions"]
    result = score_output(parse_tool_calls(case["output"]), truth, functions)
    got = {k: getattr(result, k) for k in case["expected"]}
    assert got == case["expected"], case["why"]
    assert result.passed == (result.error_kind is None) == (not result.errors)


def test_standardize_string_matches_bfcl():
    assert standardize_string("April 1, 2024") == standardize_string("april 1 2024") == "april12024"
    assert standardize_string("It's") == 'it"s'


def test_ground_truth_from_example_decisions():
    ex = synthetic_examples(4)[2]  # parallel: both calls give unit="fahrenheit", not the default
    truth = ground_truth_from_example(ex)
    assert truth == [{"get_weather": {"city": ["Oslo"], "unit": ["fahrenheit"]}},
                     {"get_weather": {"city": ["Cairo"], "unit": ["fahrenheit"]}}]
    simple = synthetic_examples(1)[0]
    assert ground_truth_from_example(simple) == [{"get_weather": {"city": ["Lyon"], "unit": ["", "celsius"]}}]
    default_given = copy.deepcopy(simple)
    default_given["messages"][-1]["tool_calls"][0]["function"]["arguments"]["unit"] = "celsius"
    assert ground_truth_from_example(default_given)[0]["get_weather"]["unit"] == ["celsius", ""]
    assert ground_truth_from_example(synthetic_examples(4)[3]) == []


def test_ground_truth_from_example_needs_an_assistant_turn():
    ex = synthetic_examples(1)[0]
    ex["messages"] = ex["messages"][:1]
    with pytest.raises(ValueError, match="assistant"):
        ground_truth_from_example(ex)


def test_nested_values_round_trip_through_ground_truth():
    args = {"filters": {"size": "L", "tags": ["a", "b"]}, "rows": [{"k": 1}, {"k": 2}]}
    ex = {"id": "n", "category": "simple", "tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {"filters": {"type": "object"},
                                                                      "rows": {"type": "array"}},
                                    "required": ["filters", "rows"]}}}],
          "messages": [{"role": "user", "content": "q"},
                       {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": args}}]}]}
    truth = ground_truth_from_example(ex)
    assert calls_from_ground_truth(truth) == [ToolCall("f", args)]
    assert score_output(parse_tool_calls(render_calls([ToolCall("f", args)])), truth, ex["tools"]).passed


# ---- one deliberately broken variant per error kind --------------------------------------------

def _first_required(task: EvalTask, call: ToolCall, types: tuple[str, ...] | None = None) -> str | None:
    doc = function_docs(task.functions).get(call.name) or {}
    props = (doc.get("parameters") or {}).get("properties") or {}
    for key in (doc.get("parameters") or {}).get("required") or []:
        if key in call.arguments and (types is None or props.get(key, {}).get("type") in types):
            return key
    return None


def _wrong_type_value(task: EvalTask, call: ToolCall, key: str) -> Any:
    declared = function_docs(task.functions)[call.name]["parameters"]["properties"][key].get("type")
    return "not-an-object" if declared in ("dict", "object") else {"wrong": ["type"]}


def _break(kind: str, task: EvalTask) -> str | None:
    """Text that must fail ``task`` with ``kind``, or None when the task cannot show that error."""
    calls = calls_from_ground_truth(task.ground_truth, task.functions)
    if kind == "should_have_asked":  # a call with a guessed value where the request lacked one
        return render_calls([ToolCall(task.functions[0]["name"], {})]) if task.category == "clarify" else None
    if kind == "asked_needlessly":
        return "Which city should I use?" if calls else None
    if kind == "spurious_call" and task.category == "clarify":
        return None  # a call there is should_have_asked: the request needed a question, not silence
    if kind in ("spurious_call",):
        extra = calls[0] if calls else ToolCall(task.functions[0]["name"] if task.functions else "lookup", {})
        return render_calls(calls + [extra])
    if not calls:
        return None  # the remaining kinds need an expected call
    first = calls[0]
    if kind == "malformed":
        return render_calls(calls)[:-30]  # cut inside the last block's JSON
    if kind == "missed_call":
        return "I would rather not call anything."
    if kind == "wrong_tool":
        calls[0] = ToolCall(first.name + "_v2", first.arguments)
    elif kind == "unexpected_argument":
        calls[0] = ToolCall(first.name, {**first.arguments, "zz_not_a_param": 1})
    elif kind == "missing_argument":
        key = _first_required(task, first)
        if key is None:
            return None
        calls[0] = ToolCall(first.name, {k: v for k, v in first.arguments.items() if k != key})
    elif kind == "wrong_type":
        key = _first_required(task, first, ("string", "integer", "float", "number", "boolean", "array", "dict"))
        if key is None:
            return None
        calls[0] = ToolCall(first.name, {**first.arguments, key: _wrong_type_value(task, first, key)})
    elif kind == "wrong_value":
        key = _first_required(task, first, ("string", "integer"))
        if key is None:
            return None
        value = first.arguments[key]
        calls[0] = ToolCall(first.name, {**first.arguments,
                                         key: "zz wrong value" if isinstance(value, str) else 987654321})
    return render_calls(calls)


def _tasks_under_test(golden_bfcl_dir) -> list[EvalTask]:
    bfcl = [t for t in load_bfcl(list(CATEGORY_GROUPS), source=golden_bfcl_dir)
            if not ground_truth_issues(t.ground_truth, t.functions)]
    return bfcl + as_tasks(synthetic_examples(8) + builtin_dataset("test", 12, ["clarify"]))


@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_each_broken_variant_scores_zero_with_its_kind(kind, golden_bfcl_dir):
    results = []
    for task in _tasks_under_test(golden_bfcl_dir):
        text = _break(kind, task)
        if text is None:
            continue
        result = score_output(parse_tool_calls(text), task.ground_truth, task.functions, example_id=task.id,
                              category=task.category)
        assert not result.passed, (task.id, text)
        assert result.error_kind == kind, (task.id, result.errors)
        results.append(result)
    assert len(results) >= 10, f"too few tasks can show {kind}"
    metrics = aggregate(results)
    assert metrics.exact_match.value == 0.0
    assert metrics.error_counts[kind] == len(results)
