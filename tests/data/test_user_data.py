"""Loading user JSONL: every bad-row kind reported at its line, strict mode, xLAM conversion."""

from __future__ import annotations

import json

import pytest

from toolsweep.data import (
    DataValidationError,
    RowError,
    builtin_dataset,
    example_to_xlam,
    load_hub_dataset,
    load_jsonl,
    validate_call,
    write_jsonl,
)
from toolsweep.data.formats import from_xlam_row, xlam_type_to_schema

EXPECTED_BAD = {2: "invalid_json", 5: "unknown_tool", 6: "unknown_argument", 7: "missing_argument",
                8: "wrong_type", 9: "enum_violation", 10: "missing_field", 11: "invalid_json",
                13: "bad_messages", 14: "bad_format", 15: "wrong_type"}


def test_each_bad_row_kind_at_its_line(fixtures_dir):
    report = load_jsonl(fixtures_dir / "messages_mixed.jsonl")
    assert {e.line: e.kind for e in report.errors} == EXPECTED_BAD
    assert report.total == 14  # the blank line 4 is not a row
    assert [e["id"] for e in report.examples] == ["row-1", "row-3", "row-12"]
    assert report.examples[2]["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"city": "Porto", "days": 2}
    assert report.counts()["invalid_json"] == 2 and report.counts()["wrong_type"] == 2
    assert all(isinstance(e, RowError) and e.path.endswith("messages_mixed.jsonl") for e in report.errors)
    by_line = {e.line: e.reason for e in report.errors}
    assert "get_forecast" in by_line[5] and "'country'" in by_line[6] and "'kelvin'" in by_line[9]


def test_summary_line(fixtures_dir):
    summary = load_jsonl(fixtures_dir / "messages_mixed.jsonl").summary()
    assert summary.startswith("skipped 11 of 14 rows in ")
    assert "2 invalid JSON (lines 2, 11)" in summary
    assert "1 call to a tool not offered (line 5)" in summary
    assert "2 arguments of the wrong type (lines 8, 15)" in summary


def test_strict_mode_lists_every_bad_row(fixtures_dir):
    path = fixtures_dir / "messages_mixed.jsonl"
    with pytest.raises(DataValidationError) as info:
        load_jsonl(path, strict=True)
    assert len(info.value.errors) == len(EXPECTED_BAD)
    message = str(info.value)
    assert "strict=False" in message
    for line in EXPECTED_BAD:
        assert f"{path}:{line}: " in message


def test_valid_file_round_trips_through_write(tmp_path):
    examples = builtin_dataset("validation", 40, seed=2)
    path = write_jsonl(examples, tmp_path / "d.jsonl")
    report = load_jsonl(path, strict=True)
    assert report.examples == examples
    assert report.summary() == f"loaded 40 rows from {path}"


def test_xlam_file(fixtures_dir):
    report = load_jsonl(fixtures_dir / "xlam_small.jsonl")
    assert {e.line: e.kind for e in report.errors} == {4: "wrong_type", 5: "invalid_json"}
    first, second, third = report.examples
    assert first["id"] == "xlam-1" and first["category"] == "simple"
    params = first["tools"][0]["function"]["parameters"]
    assert params == {"type": "object", "required": [], "properties": {
        "type": {"type": "string", "description": "Type of giveaway.", "default": "game"}}}
    assert second["category"] == "parallel"
    weather = second["tools"][1]["function"]["parameters"]
    assert weather["required"] == ["city"] and weather["properties"]["metric"]["type"] == "boolean"
    tags = third["tools"][0]["function"]["parameters"]
    assert tags["properties"]["tags"] == {"type": "array", "items": {"type": "string"}, "description": "Tags."}
    assert tags["required"] == ["tags"]
    for example in report.examples:
        for call in example["messages"][-1]["tool_calls"]:
            assert validate_call(call, example["tools"]) == []


@pytest.mark.parametrize("text, schema, optional", [
    ("str", {"type": "string"}, False), ("int, optional", {"type": "integer"}, True),
    ("Optional[float]", {"type": "number"}, True), ("List[int]", {"type": "array", "items": {"type": "integer"}}, False),
    ("bool", {"type": "boolean"}, False), ("Any", {}, False),
])
def test_xlam_types(text, schema, optional):
    assert xlam_type_to_schema(text) == (schema, optional)


def test_xlam_round_trip(fixtures_dir):
    for line in (fixtures_dir / "xlam_small.jsonl").read_text().splitlines()[:3]:
        example = from_xlam_row(json.loads(line), "x")
        again = from_xlam_row(example_to_xlam(example), "x")
        assert again["tools"] == example["tools"]
        assert again["messages"] == example["messages"]
        assert example_to_xlam(again) == example_to_xlam(example)


def test_contract_example_to_xlam_and_back():
    tool = {"type": "function", "function": {"name": "add", "description": "Add numbers.", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer", "description": "A"},
                                         "xs": {"type": "array", "items": {"type": "number"}, "description": "Xs"},
                                         "flag": {"type": "boolean", "description": "Flag"}},
        "required": ["a", "xs"]}}}
    example = {"id": "e", "category": "simple", "tools": [tool], "messages": [
        {"role": "user", "content": "add 1 and 2.5"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "add", "arguments": {"a": 1, "xs": [2.5]}}}]}]}
    back = from_xlam_row(example_to_xlam(example), "e")
    assert back == example


def test_openai_style_row_is_normalised(tmp_path):
    row = {"tools": [{"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}],
           "messages": [{"role": "user", "content": "f 3"},
                        {"role": "assistant", "content": None,
                         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 3}'}}]}]}
    path = tmp_path / "openai.jsonl"
    path.write_text(json.dumps(row) + "\n")
    (example,) = load_jsonl(path, strict=True).examples
    assert example["id"] == "openai-000001" and example["category"] == "simple"
    assert example["tools"][0]["type"] == "function"
    assert example["messages"][1] == {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": {"x": 3}}}]}


def test_missing_file_and_bad_format_say_what_to_change(tmp_path):
    with pytest.raises(FileNotFoundError, match="check the path"):
        load_jsonl(tmp_path / "none.jsonl")
    with pytest.raises(ValueError, match="auto, messages, xlam"):
        load_jsonl(tmp_path / "none.jsonl", fmt="csv")


def test_hub_loader_code_path_with_a_local_json_builder(fixtures_dir, tmp_path, monkeypatch):
    """``datasets``' "json" builder reads a local file, so the hub code path runs without network."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    lines = (fixtures_dir / "xlam_small.jsonl").read_text().splitlines()[:3]
    # Arrow wants one type per column: store tools/answers as JSON strings, as the real xLAM set does.
    rows = [{k: v if k in ("id", "query") or isinstance(v, str) else json.dumps(v) for k, v in json.loads(line).items()}
            for line in lines]
    path = write_jsonl(rows, tmp_path / "hub.jsonl")
    report = load_hub_dataset("json", split="train", data_files=str(path), limit=2)
    assert report.total == 2 and not report.errors and report.path == "json:train"
    assert [e["id"] for e in report.examples] == ["xlam-1", "xlam-2"]
