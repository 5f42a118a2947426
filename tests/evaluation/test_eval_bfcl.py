"""BFCL loader and the scorer on BFCL's own ground truth (golden excerpt always, full data if present)."""

from __future__ import annotations

import shutil
import sys

import pytest

from toolsweep.data.bfcl import CATEGORY_GROUPS, WHEEL_ENV, BFCLData, installed_data_dir, open_bfcl
from toolsweep.evaluation import (
    aggregate,
    bfcl_function_to_tool,
    calls_from_ground_truth,
    ground_truth_issues,
    load_bfcl,
    parse_tool_calls,
    render_calls,
    score_output,
)

ALL = list(CATEGORY_GROUPS)


def _score_reference(tasks):
    """Render each task's first acceptable answer, parse it back, score it."""
    results, skipped = [], []
    for task in tasks:
        if ground_truth_issues(task.ground_truth, task.functions):
            skipped.append(task.id)
            continue
        text = render_calls(calls_from_ground_truth(task.ground_truth, task.functions))
        results.append(score_output(parse_tool_calls(text), task.ground_truth, task.functions,
                                    example_id=task.id, category=task.category, subcategory=task.subcategory))
    return results, skipped


def _assert_all_pass(results):
    failures = [(r.id, r.errors) for r in results if not r.passed]
    assert not failures, failures[:5]
    flat = aggregate(results).to_flat_dict()
    assert flat["exact_match"] == 1.0


def test_golden_excerpt_reference_answers_score_100_percent(golden_bfcl_dir):
    tasks = load_bfcl(ALL, source=golden_bfcl_dir)
    assert {t.subcategory for t in tasks} == set(ALL)
    results, skipped = _score_reference(tasks)
    assert skipped == ["parallel_multiple_26"]  # its ground truth names a parameter the schema lacks
    _assert_all_pass(results)
    flat = aggregate(results).to_flat_dict()
    for key in ["exact_match/simple", "exact_match/simple_python", "exact_match/live_multiple",
                "exact_match/irrelevance", "irrelevance_accuracy", "tool_selection", "arg_precision", "arg_recall"]:
        assert flat[key] == 1.0, key


def test_full_bfcl_reference_answers_score_100_percent(real_bfcl):
    tasks = load_bfcl(ALL, source=real_bfcl)
    assert len(tasks) > 3000
    results, skipped = _score_reference(tasks)
    assert len(skipped) <= 10, skipped  # BFCL rows whose ground truth contradicts their own schema
    _assert_all_pass(results)


def test_wheel_is_read_without_installing(bfcl_wheel):
    if bfcl_wheel.is_dir():
        pytest.skip(f"{WHEEL_ENV} names an unpacked folder, not a wheel")
    data = open_bfcl(bfcl_wheel)
    assert data.wheel and len(data.questions("simple_python")) >= 400


def test_v3_file_names_are_found(golden_bfcl_dir, tmp_path):
    (tmp_path / "possible_answer").mkdir()
    shutil.copy(golden_bfcl_dir / "BFCL_v4_simple_python.json", tmp_path / "BFCL_v3_simple.json")
    shutil.copy(golden_bfcl_dir / "possible_answer" / "BFCL_v4_simple_python.json",
                tmp_path / "possible_answer" / "BFCL_v3_simple.json")
    shutil.copy(golden_bfcl_dir / "BFCL_v4_irrelevance.json", tmp_path / "BFCL_v3_irrelevance.json")
    tasks = load_bfcl(["simple_python", "irrelevance"], source=tmp_path, limit=3)
    assert [t.id for t in tasks] == ["simple_python_0", "simple_python_1", "simple_python_2",
                                     "irrelevance_0", "irrelevance_1", "irrelevance_2"]
    assert all(t.ground_truth == [] for t in tasks if t.category == "irrelevance")


def test_installed_package_is_located_without_importing_it(golden_bfcl_dir, tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "bfcl_eval"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('bfcl_eval must not be imported')\n")
    shutil.copytree(golden_bfcl_dir, pkg / "data")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delenv(WHEEL_ENV, raising=False)
    assert installed_data_dir() == pkg / "data"
    assert len(load_bfcl(["multiple"])) == 5
    assert "bfcl_eval" not in sys.modules


def test_missing_data_says_how_to_get_it(monkeypatch):
    from toolsweep.data import bfcl

    monkeypatch.delenv(WHEEL_ENV, raising=False)
    monkeypatch.setattr(bfcl, "installed_data_dir", lambda: None)
    with pytest.raises(FileNotFoundError, match="pip download --no-deps bfcl-eval"):
        open_bfcl()


def test_unknown_category_is_rejected(golden_bfcl_dir):
    with pytest.raises(ValueError, match="choose from"):
        load_bfcl(["multi_turn_base"], source=golden_bfcl_dir)


def test_function_docs_become_json_schema_tools_but_scoring_keeps_bfcl_types(golden_bfcl_dir):
    task = next(t for t in load_bfcl(["live_multiple"], source=golden_bfcl_dir) if t.id == "live_multiple_0-0-0")
    tool = task.tools[1]["function"]
    assert tool["parameters"]["type"] == "object"
    assert tool["parameters"]["properties"]["new_preferences"]["type"] == "object"
    assert task.functions[1]["parameters"]["type"] == "dict"
    converted = bfcl_function_to_tool({"name": "f", "parameters": {"type": "dict", "properties": {
        "xs": {"type": "array", "items": {"type": "float"}}, "t": {"type": "tuple"}}}})
    props = converted["function"]["parameters"]["properties"]
    assert props["xs"]["items"]["type"] == "number" and props["t"]["type"] == "array"


def test_bfcl_data_repr_and_folder(golden_bfcl_dir):
    data = open_bfcl(golden_bfcl_dir)
    assert isinstance(data, BFCLData) and not data.wheel
    assert data.answers("irrelevance") == {}
