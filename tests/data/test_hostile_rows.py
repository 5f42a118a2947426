"""Hostile user data: every schema shape, byte sequence and empty or missing file answers with a row error or a
UserError naming the file (and line), never another exception (issue 20, part B)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolsweep.data.formats import RowProblem
from toolsweep.data.loaders import (
    load_jsonl,
    load_preference_jsonl,
    parse_preference_row,
    parse_row,
)
from toolsweep.data.reports import DataFileError, LoadReport, MissingDataFile, RowError, require_rows
from toolsweep.data.tool_validation import (
    check_value,
    tool_schema_problems,
    validate_arguments,
    validate_call,
)
from toolsweep.errors import UserError

BAD = Path(__file__).parent / "fixtures" / "bad"
USER = {"role": "user", "content": "What is the weather in Porto?"}
CALL = {"role": "assistant", "content": "", "tool_calls": [
    {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Porto"}}}]}
GOOD = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def _row(parameters: object, answer: dict = CALL) -> dict:
    return {"tools": [{"type": "function", "function": {"name": "get_weather", "parameters": parameters}}],
            "messages": [USER, answer]}


def _load_one(tmp_path: Path, data: bytes, fmt: str = "auto") -> LoadReport:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(data)
    return load_jsonl(path, fmt)


@pytest.mark.parametrize(("parameters", "says"), [
    ("city: str", "'parameters' should be a JSON-schema object like"),  # was AttributeError in schema.py
    (["city"], "'parameters' should be a JSON-schema object like"),  # was AttributeError
    ({"type": "object", "properties": ["city"]}, "'properties' should map each argument name to its schema"),  # TypeError
    ({"type": "object", "properties": {"city": "string"}}, "properties.city should be a schema object"),
    ({"type": "object", "properties": {"city": {"type": "string"}}, "required": 5}, "'required' should be a list"),
    ({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["town"]},
     "'required' names 'town', which is not in 'properties'"),
    ({"type": "object", "properties": {"city": {"type": "string", "enum": 5}}}, "'enum' should be a non-empty list"),
    ({"type": "object", "properties": {"city": {"type": "string", "enum": []}}}, "'enum' should be a non-empty list"),
    ({"type": "object", "properties": {"city": {"type": {"a": 1}}}}, "'type' should be a type name"),
    ({"type": "object", "properties": {"city": {"type": [{"a": 1}]}}}, "'type' should be a type name"),
    ({"type": "object", "properties": {"city": {"type": "array", "items": "string"}}}, "items should be a schema"),
])
def test_malformed_schemas_are_row_errors(parameters: object, says: str, tmp_path: Path) -> None:
    for answer in (CALL, {"role": "assistant", "content": "Sorry, I cannot help."}):  # with and without a call
        report = _load_one(tmp_path, json.dumps(_row(parameters, answer)).encode() + b"\n")
        assert report.examples == [] and len(report.errors) == 1
        error = report.errors[0]
        assert (error.kind, error.line) == ("bad_schema", 1) and says in error.reason, error.reason
        assert "get_weather" in error.reason


def test_schema_functions_answer_bad_schema_instead_of_raising() -> None:
    """The public validators, handed a malformed schema directly, answer a bad_schema problem."""
    for parameters in ("city: str", ["city"], {"properties": ["city"]}, {"properties": {"city": "s"}}, {"required": 5}):
        assert validate_arguments({"city": "Porto"}, parameters)[0][0] == "bad_schema"  # type: ignore[arg-type]
    assert check_value("city", "Porto", "string")[0][0] == "bad_schema"  # type: ignore[arg-type]
    assert check_value("city", "Porto", {"enum": 5})[0][0] == "bad_schema"
    assert validate_call(CALL["tool_calls"][0], [{"function": {"parameters": {}}}])[0][0] == "bad_tools"
    assert tool_schema_problems(_row(GOOD)["tools"]) == []
    assert tool_schema_problems([{"type": "function", "function": {"name": "f"}}]) == []  # no parameters: no arguments


def test_the_hostile_fixture_reports_each_row_at_its_line() -> None:
    report = load_jsonl(BAD / "hostile_rows.jsonl")
    assert {e.line: e.kind for e in report.errors} == {2: "bad_schema", 3: "bad_schema", 4: "bad_schema",
                                                       5: "bad_schema", 6: "missing_field", 7: "unknown_tool",
                                                       8: "invalid_json"}
    assert len(report.examples) == 1
    details = report.details()
    assert details[0].startswith("4 malformed tool schemas (lines 2, 3, 4, 5), first: ")
    assert f"{BAD / 'hostile_rows.jsonl'}:2: tool 'get_weather'" in details[0]
    unknown = next(line for line in details if "not offered" in line)
    assert "call to 'get_forecast', which is not offered (offered: get_weather)" in unknown
    assert "call to 'get_forecast': call to" not in unknown  # said once, not twice


def test_bytes_that_are_not_utf8_cost_their_row_only() -> None:
    report = load_jsonl(BAD / "non_utf8.jsonl")  # was a UnicodeDecodeError for the whole file
    assert len(report.examples) == 1 and [(e.line, e.kind) for e in report.errors] == [(2, "bad_encoding")]
    assert "not UTF-8 text: byte 0xe9 at column" in report.errors[0].reason
    assert "save the file as UTF-8" in report.errors[0].reason


def test_utf16_is_named_and_a_utf8_bom_is_skipped(tmp_path: Path) -> None:
    line = json.dumps(_row(GOOD)) + "\n"
    report = _load_one(tmp_path, line.encode("utf-16"))
    assert report.errors[0].kind == "bad_encoding" and "looks like UTF-16" in report.errors[0].reason
    assert len(_load_one(tmp_path, b"\xef\xbb\xbf" + line.encode()).examples) == 1


@pytest.mark.parametrize(("data", "kind"), [
    (b"[" * 100_000 + b"]" * 100_000, "too_deep"),  # was RecursionError
    (b'{"x": ' + b"[" * 150 + b"]" * 150 + b"}", "too_deep"),
    (b'{"x": ' + b"9" * 5000 + b"}", "invalid_json"),  # was ValueError (Python reads at most 4300 digits)
    (b"\x00\x01\x02", "invalid_json"),
    (b"null", "missing_field"),
    (b'"just a string"', "missing_field"),
])
def test_hostile_lines_are_row_errors(data: bytes, kind: str, tmp_path: Path) -> None:
    report = _load_one(tmp_path, data)
    assert [(e.line, e.kind) for e in report.errors] == [(1, kind)]


def test_json_strings_inside_rows_are_bounded_too(tmp_path: Path) -> None:
    deep_tools = {"query": "q", "tools": "[" * 5000 + "]" * 5000, "answers": "[]"}
    long_number = {"query": "q", "tools": "[]", "answers": '[{"name": "f", "arguments": "{\\"n\\": ' + "9" * 5000 + '}"}]'}
    for row, kind in ((deep_tools, "too_deep"), (long_number, "bad_call")):
        report = _load_one(tmp_path, json.dumps(row).encode(), "xlam")
        assert [e.kind for e in report.errors] == [kind], report.errors


def test_many_opening_toolcall_tags_answer_fast(tmp_path: Path) -> None:
    """``<TOOLCALL>(.*?)</TOOLCALL>`` took minutes on this 1 MB line; the tag scan is linear."""
    answer = {"role": "assistant", "content": "<TOOLCALL>" * 100_000}
    start = time.perf_counter()
    report = _load_one(tmp_path, json.dumps({"tools": [], "messages": [USER, answer]}).encode(), "when2call")
    assert time.perf_counter() - start < 2
    assert report.errors[0].kind == "bad_call" and "no closing </TOOLCALL>" in report.errors[0].reason


def test_toolcall_blocks_keep_their_meaning(tmp_path: Path) -> None:
    content = 'Sure. <toolcall>[{"name": "get_weather", "arguments": {"city": "Porto"}}]</TOOLCALL> done'
    tools = [json.dumps({"name": "get_weather", "parameters": {"type": "dict", "properties": {"city": {"type": "str"}},
                                                               "required": ["city"]}})]
    row = {"tools": tools, "messages": [USER, {"role": "assistant", "content": content}]}
    example = _load_one(tmp_path, json.dumps(row).encode(), "when2call").examples[0]
    answer = example["messages"][-1]
    assert answer["content"] == "Sure.  done"
    assert answer["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Porto"}}


def test_a_huge_value_is_echoed_short(tmp_path: Path) -> None:
    answer = {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": 7 * [{"x": "y" * 500_000}]}}}]}
    report = _load_one(tmp_path, json.dumps(_row(GOOD, answer)).encode())
    assert report.errors[0].kind == "wrong_type" and len(str(report.errors[0])) < 400 + len(report.path)


def test_content_and_clarify_shapes_are_checked(tmp_path: Path) -> None:
    numeric = {**CALL, "tool_calls": [], "content": 5}  # no call, content a number: asks_follow_up raised TypeError
    assert _load_one(tmp_path, json.dumps(_row(GOOD, numeric)).encode()).errors[0].kind == "bad_messages"
    question = {"role": "assistant", "content": "Which city?"}
    for clarify in (["get_weather"], {"tool": ["get_weather"], "missing": "city"}, {"tool": "get_weather"},
                    {"tool": "get_weather", "missing": "city", "arguments": [1]}):
        row = {**_row(GOOD, question), "category": "clarify", "clarify": clarify}
        assert _load_one(tmp_path, json.dumps(row).encode()).errors[0].kind == "bad_clarify", clarify
    good = {**_row(GOOD, question), "category": "clarify", "clarify": {"tool": "get_weather", "missing": "city"}}
    assert _load_one(tmp_path, json.dumps(good).encode()).examples[0]["clarify"]["missing"] == "city"


def test_missing_empty_and_unusable_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingDataFile, match="data file .*nope.jsonl does not exist; check the path") as info:
        load_jsonl(tmp_path / "nope.jsonl")
    assert isinstance(info.value, UserError) and isinstance(info.value, FileNotFoundError)
    with pytest.raises(MissingDataFile, match="is a directory, not a file"):
        load_jsonl(tmp_path)
    with pytest.raises(DataFileError, match=r"data\.sources\.mine: .*empty\.jsonl has no rows \(it is empty"):
        require_rows(load_jsonl(BAD / "empty.jsonl"), "data.sources.mine")
    with pytest.raises(DataFileError, match=r"all_bad\.jsonl has no usable rows: all 2 were rejected\. 1 invalid JSON "
                                            r"\(line 1\), first: .*all_bad\.jsonl:1: invalid JSON"):
        require_rows(load_jsonl(BAD / "all_bad.jsonl"), "data.sources.mine")
    with pytest.raises(DataFileError, match="has no usable rows"):
        require_rows(load_preference_jsonl(BAD / "all_bad.jsonl"), "data.preferences")


def test_long_reports_stay_readable() -> None:
    errors = [RowError("x.jsonl", line, "invalid JSON", "invalid_json") for line in range(1, 1001)]
    report = LoadReport("x.jsonl", 1000, [], errors)
    assert report.summary().endswith("1000 invalid JSON (lines 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 990 more)")
    assert len(str(RowError("x.jsonl", 1, "y" * 10_000))) < 330


# --- fuzzing: whatever a line holds, the answer is an example or a row error ------------------------------------

_KEYS = st.sampled_from(["tools", "messages", "query", "answers", "function", "name", "parameters", "properties",
                         "type", "required", "enum", "items", "role", "content", "tool_calls", "arguments",
                         "correct_answer", "question", "chosen_response", "rejected_response", "category", "clarify"])
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                    st.sampled_from(["object", "string", "array", "dict", "assistant", "user", "get_weather",
                                     "<TOOLCALL>[]</TOOLCALL>", "{", "[1]", "tool_call", "request_for_info"]))
JSON = st.recursive(_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(_KEYS, inner, max_size=5)), max_leaves=25)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _valid_or_row_problem(parse, row: object) -> None:
    try:
        example = parse(row, "fuzz.jsonl", 1)
    except RowProblem:
        return
    assert tool_schema_problems(example.get("tools", [])) == []


@FUZZ
@given(JSON, st.sampled_from(["auto", "messages", "xlam", "when2call"]))
def test_any_json_value_parses_or_is_a_row_problem(row: object, fmt: str) -> None:
    _valid_or_row_problem(lambda r, p, n: parse_row(r, p, n, fmt), row)
    _valid_or_row_problem(parse_preference_row, row)


def _near_row(parameters: object, arguments: object, tools_as_text: bool) -> dict:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": parameters}}
    answer = {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": arguments}}]}
    return {"tools": json.dumps([tool]) if tools_as_text else [tool], "messages": [USER, answer]}


@FUZZ
@given(st.builds(_near_row, st.one_of(JSON, st.fixed_dictionaries({"type": st.just("object"),
                                                                   "properties": st.dictionaries(_KEYS, JSON)})),
                 JSON, st.booleans()),
       st.sampled_from(["auto", "messages", "when2call"]))
def test_rows_with_arbitrary_schemas_and_arguments(row: dict, fmt: str) -> None:
    _valid_or_row_problem(lambda r, p, n: parse_row(r, p, n, fmt), row)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_load_as_rows_or_row_errors(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.jsonl"
        path.write_bytes(data)
        for fmt in ("auto", "xlam"):
            report = load_jsonl(path, fmt)
            assert len(report.examples) + len(report.errors) == report.total
            assert all(isinstance(error.line, int) and error.line >= 1 for error in report.errors)


@FUZZ
@given(JSON)
def test_any_json_value_as_a_line(row: object) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.jsonl"
        path.write_text(json.dumps(row) + "\n", encoding="utf-8")
        report = load_jsonl(path)
        assert report.total == 1 and len(report.examples) + len(report.errors) == 1


def test_a_file_of_almost_nothing_usable_stops_early(tmp_path: Path) -> None:
    """500k lines of junk answered in seconds only after reading them all; 1000 rejected rows with under 1 in 10
    usable is enough to say the file is not JSONL of this format."""
    good = json.dumps(_row(GOOD)).encode() + b"\n"
    path = tmp_path / "junk.jsonl"
    path.write_bytes(good + b"x\n" * 500_000)
    start = time.perf_counter()
    with pytest.raises(DataFileError, match=r"junk\.jsonl: stopped reading at line 1001: 1000 of the 1001 rows read are "
                                            r"unusable \(1000 invalid JSON \(lines 2, 3, .* and 990 more\), first: "):
        load_jsonl(path)
    assert time.perf_counter() - start < 2
    path.write_bytes((good + b"x\n" * 8) * 300)  # mostly bad, but 1 in 9 usable: read to the end, rows skipped
    report = load_jsonl(path)
    assert (len(report.examples), len(report.errors)) == (300, 2400)


def test_an_answer_of_too_many_calls_is_a_row_error(tmp_path: Path) -> None:
    answer = {**CALL, "tool_calls": CALL["tool_calls"] * 129}
    report = _load_one(tmp_path, json.dumps(_row(GOOD, answer)).encode())
    assert report.errors[0].kind == "bad_call" and "129 tool calls; at most 128" in report.errors[0].reason
    answer = {**CALL, "tool_calls": CALL["tool_calls"] * 128}
    assert len(_load_one(tmp_path, json.dumps(_row(GOOD, answer)).encode()).examples) == 1
