"""When2Call rows (train_sft, train_pref, test MCQ) as contract examples and DPO pairs; bad rows at their line.

The fixtures under fixtures/when2call/ follow the field layout of nvidia/When2Call (its dataset card and the
README and conversion scripts of github.com/NVIDIA/When2Call); their content is made up.
"""

from __future__ import annotations

import json

import pytest

from toolsweep.data.formats import asks_follow_up
from toolsweep.data.loaders import DataValidationError, load_jsonl, load_preference_jsonl
from toolsweep.data.tool_validation import validate_call
from toolsweep.data.when2call_format import when2call_tool_to_spec


@pytest.fixture
def w2c(fixtures_dir):
    return fixtures_dir / "when2call"


def _write(tmp_path, rows, name="rows.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_sft_rows_map_behaviours_to_categories(w2c):
    report = load_jsonl(w2c / "when2call_train_sft.jsonl", "when2call", strict=True)
    examples = report.examples
    assert [e["category"] for e in examples] == ["simple", "irrelevance", "clarify", "multiple", "clarify"]
    call = examples[0]["messages"][-1]
    assert call["content"] == "" and "<TOOLCALL>" not in json.dumps(call)
    assert call["tool_calls"] == [{"type": "function",
                                   "function": {"name": "get_air_quality", "arguments": {"city": "Lyon", "days": 3}}}]
    for example in examples[1:3] + examples[4:]:
        assert "tool_calls" not in example["messages"][-1] and example["messages"][-1]["content"]
    # the card's layout: "required" beside "parameters", xLAM type names
    air = examples[0]["tools"][0]["function"]["parameters"]
    assert air == {"type": "object", "required": ["city"], "properties": {
        "city": {"type": "string", "description": "Name of the city.", "default": ""},
        "days": {"type": "integer", "description": "How many days of forecast to return.", "default": 1}}}
    # tools given as JSON strings, no "required": a parameter is required unless its type says optional
    tags = examples[3]["tools"][0]["function"]["parameters"]
    assert tags["required"] == ["album_id", "tags"]
    assert tags["properties"]["tags"]["type"] == "array" and tags["properties"]["tags"]["items"] == {"type": "string"}
    assert examples[0]["id"] == "when2call_train_sft-000001"


def test_auto_detects_every_when2call_file(w2c):
    for name in ("when2call_train_sft.jsonl", "when2call_train_pref.jsonl", "when2call_test_mcq.jsonl"):
        assert load_jsonl(w2c / name).examples == load_jsonl(w2c / name, "when2call").examples


def test_mcq_rows_give_their_correct_answer(w2c):
    examples = load_jsonl(w2c / "when2call_test_mcq.jsonl", "when2call", strict=True).examples
    assert [e["category"] for e in examples] == ["simple", "clarify", "irrelevance", "irrelevance", "multiple",
                                                 "irrelevance"]
    assert examples[0]["id"] == "when2call-0c3d6f0e-1d7a-4c52-9f0b-5a1f3e2b7c01"
    assert examples[0]["messages"] == [
        {"role": "user", "content": "What's the weather going to be in Lyon on 2023-05-02?"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
            "name": "Weather_1_GetWeather", "arguments": {"city": "Lyon", "date": "2023-05-02"}}}]}]
    clarify = examples[1]
    assert clarify["messages"][-1] == {"role": "assistant",
                                       "content": "Which track would you like me to play in the kitchen?"}
    assert clarify["clarify"] == {"tool": "Music_3_PlayMedia", "missing": "track", "arguments": {"device": "Kitchen"}}
    assert examples[3]["tools"] == [] and examples[3]["messages"][-1]["content"].startswith("I'm sorry")
    alarm = examples[4]["tools"][2]["function"]["parameters"]["properties"]
    assert alarm["volume"]["type"] == "number" and alarm["days"] == {
        "type": "array", "items": {"type": "string"}, "description": "Days to repeat.", "default": []}
    for example in examples:  # every reference call passes the same schema check as training data
        for call in example["messages"][-1].get("tool_calls", []):
            assert validate_call(call, example["tools"]) == []


def test_preference_rows_become_dpo_pairs(w2c):
    report = load_preference_jsonl(w2c / "when2call_train_pref.jsonl", strict=True)
    pairs = report.examples
    assert [(p["category"], p["rejection_kind"]) for p in pairs] == [
        ("clarify", "invented_value"), ("simple", "missed_call"), ("simple", "asked_needlessly"),
        ("irrelevance", "spurious_call"), ("irrelevance", "should_have_refused"), ("clarify", "should_have_asked")]
    for pair in pairs:
        assert set(pair) == {"id", "category", "tools", "prompt", "chosen", "rejected", "rejection_kind"}
        assert pair["prompt"][-1]["role"] == "user"
        assert len(pair["chosen"]) == len(pair["rejected"]) == 1 and pair["chosen"] != pair["rejected"]
        assert pair["chosen"][0]["role"] == pair["rejected"][0]["role"] == "assistant"
    assert pairs[0]["rejected"][0]["tool_calls"][0]["function"]["arguments"] == {
        "amount": 250, "from_currency": "USD", "to_currency": "EUR"}
    # a rejected call may name a tool that is not offered (that is what is wrong with it)
    assert pairs[3]["rejected"][0]["tool_calls"][0]["function"]["name"] == "book_table"
    assert [t["function"]["name"] for t in pairs[3]["tools"]] == ["search_train_times"]
    # as SFT rows, the same file gives the chosen answers
    sft = load_jsonl(w2c / "when2call_train_pref.jsonl", "when2call").examples
    assert [e["messages"][-1] for e in sft] == [p["chosen"][0] for p in pairs]


def test_pairs_fit_the_trainers_preference_dataset(w2c):
    from toolsweep.trainers.datasets import preference_dataset

    pairs = load_preference_jsonl(w2c / "when2call_train_pref.jsonl").examples
    dataset = preference_dataset(pairs)
    assert len(dataset) == len(pairs)
    assert json.loads(dataset[0]["tools"]) == pairs[0]["tools"]


def test_preference_loader_needs_when2call_rows(w2c):
    with pytest.raises(ValueError, match="format 'when2call' only"):
        load_preference_jsonl(w2c / "when2call_train_pref.jsonl", fmt="xlam")
    report = load_preference_jsonl(w2c / "when2call_test_mcq.jsonl")
    assert not report.examples and {e.kind for e in report.errors} == {"missing_field"}
    assert "'chosen_response'" in report.errors[0].reason and "load_jsonl" in report.errors[0].reason


TOOL = {"name": "get_air_quality", "description": "Air quality.",
        "parameters": {"type": "dict", "properties": {"city": {"type": "str", "description": "City."}}},
        "required": ["city"]}


def _sft(content, tools=(TOOL,)):
    return {"tools": list(tools), "messages": [{"role": "user", "content": "Air in Lyon?"},
                                               {"role": "assistant", "content": content}]}


def test_bad_sft_rows_name_file_line_and_field(tmp_path):
    path = _write(tmp_path, [
        _sft('<TOOLCALL>[{"name": "get_air_quality", "arguments": {"city": "Lyon"}}]</TOOLCALL>'),  # fine
        _sft("<TOOLCALL>[{\"name\": \"get_air_quality\", \"arguments\": {\"city\": </TOOLCALL>"),
        _sft('<TOOLCALL>[{"name": "get_air_quality", "arguments": {"city": "Lyon"}}]'),
        _sft('<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Lyon"}}]</TOOLCALL>'),
        _sft('<TOOLCALL>[{"name": "get_air_quality", "arguments": {"town": "Lyon"}}]</TOOLCALL>'),
        _sft("Sorry.", tools=[{"description": "no name"}]),
        _sft("Sorry.", tools=["{not json"]),
        {"tools": [TOOL], "messages": [{"role": "user", "content": "Air in Lyon?"}]},
        {"tools": [TOOL]},
    ])
    report = load_jsonl(path, "when2call")
    assert len(report.examples) == 1 and report.total == 9
    by_line = {e.line: (e.kind, e.reason) for e in report.errors}
    assert {line: kind for line, (kind, _) in by_line.items()} == {
        2: "bad_call", 3: "bad_call", 4: "unknown_tool", 5: "unknown_argument", 6: "bad_tools", 7: "bad_tools",
        8: "bad_messages", 9: "missing_field"}
    assert "messages[1]" in by_line[2][1] and "not valid JSON" in by_line[2][1]
    assert "</TOOLCALL>" in by_line[3][1]
    assert "tools[0]" in by_line[6][1] and "tools[0]" in by_line[7][1]
    assert "'messages'" in by_line[9][1]
    with pytest.raises(DataValidationError) as raised:
        load_jsonl(path, "when2call", strict=True)
    assert len(raised.value.errors) == 8 and f"{path}:4: " in str(raised.value)


def test_bad_preference_and_mcq_rows(tmp_path, w2c):
    pref = json.loads((w2c / "when2call_train_pref.jsonl").read_text().splitlines()[1])
    mcq = json.loads((w2c / "when2call_test_mcq.jsonl").read_text().splitlines()[0])
    wrong_chosen = {**pref, "chosen_response": {"role": "assistant", "content":
                    '<TOOLCALL>[{"name": "get_weather", "arguments": {}}]</TOOLCALL>'}}
    same = {**pref, "rejected_response": pref["chosen_response"]}
    no_rejected = {k: v for k, v in pref.items() if k != "rejected_response"}
    user_reply = {**pref, "rejected_response": {"role": "user", "content": "x"}}
    path = _write(tmp_path, [pref, wrong_chosen, same, no_rejected, user_reply, "[1, 2]"])
    by_line = {e.line: (e.kind, e.reason) for e in load_preference_jsonl(path).errors}
    assert {line: kind for line, (kind, _) in by_line.items()} == {
        2: "unknown_tool", 3: "bad_answer", 4: "missing_field", 5: "bad_messages", 6: "missing_field"}
    assert "'rejected_response'" in by_line[4][1] and "'rejected_response'" in by_line[5][1]

    unknown_kind = {**mcq, "correct_answer": "maybe"}
    bad_call = {**mcq, "answers": {**mcq["answers"], "tool_call": "{\"name\": "}}
    missing = {k: v for k, v in mcq.items() if k != "question"}
    path = _write(tmp_path, [mcq, unknown_kind, bad_call, missing], "mcq.jsonl")
    by_line = {e.line: (e.kind, e.reason) for e in load_jsonl(path, "when2call").errors}
    assert {line: kind for line, (kind, _) in by_line.items()} == {2: "bad_answer", 3: "bad_call", 4: "missing_field"}
    assert "'correct_answer'" in by_line[2][1] and "'maybe'" in by_line[2][1]
    assert "answers.tool_call" in by_line[3][1] and "'question'" in by_line[4][1]


def test_follow_up_questions_are_told_from_refusals():
    asks = ["Which city would you like the forecast for?", "To proceed, I need the order number.",
            "I'm sorry, could you tell me which account you mean?", "Please provide the album name."]
    refuses = ["Apologies, but I'm unable to provide real-time information.",
               "I'm sorry, I can't do that because I don't have the data I need.", "The answer is 42."]
    assert all(asks_follow_up(t) for t in asks)
    assert not any(asks_follow_up(t) for t in refuses)


def test_tool_conversion_keeps_json_schema_and_drops_dataset_nulls():
    tool = {"name": "f", "description": None, "parameters": {"type": "dict", "required": ["a"], "properties": {
        "a": {"type": "integer", "description": "A.", "enum": [1, 2], "default": None},
        "b": {"type": "dict", "properties": {"c": {"type": "str"}}, "required": ["c"]},
        "unused": None}}}
    spec = when2call_tool_to_spec(tool)["function"]
    assert spec["description"] == ""
    assert spec["parameters"] == {"type": "object", "required": ["a"], "properties": {
        "a": {"type": "integer", "description": "A.", "enum": [1, 2]},
        "b": {"type": "object", "properties": {"c": {"type": "string"}}, "required": ["c"]}}}


def test_config_accepts_the_when2call_format(w2c):
    from toolsweep.config.schema import DataSource, EvalSet

    path = str(w2c / "when2call_train_sft.jsonl")
    assert DataSource(path=path, format="when2call").format == "when2call"
    assert EvalSet(path=str(w2c / "when2call_test_mcq.jsonl"), format="when2call").format == "when2call"
