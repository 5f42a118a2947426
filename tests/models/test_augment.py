from __future__ import annotations

import random

from toolsweep.models.augment import randomise_values

TOOL = {"type": "function", "function": {"name": "book", "description": "Book a table.", "parameters": {
    "type": "object", "properties": {
        "city": {"type": "string", "description": "City"}, "people": {"type": "integer", "description": "People"},
        "date": {"type": "string", "format": "date", "description": "Date"},
        "style": {"type": "string", "enum": ["quiet", "lively"], "description": "Style"}},
    "required": ["city"]}}}


def _example() -> dict:
    args = [{"city": "New York", "people": 4, "date": "2026-05-01", "style": "quiet"}, {"city": "New York", "people": 2}]
    return {"tools": [TOOL], "messages": [
        {"role": "user", "content": "A quiet table in New York for 4 on 2026-05-01. Also New York for 2."},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "book", "arguments": a}} for a in args]}]}


def test_values_are_replaced_consistently_in_request_and_calls() -> None:
    original = _example()
    out = randomise_values(original, random.Random(0))
    text = out["messages"][0]["content"]
    first, second = (c["function"]["arguments"] for c in out["messages"][1]["tool_calls"])
    assert first["city"] == second["city"] != "New York" and "New York" not in text
    assert text.count(first["city"]) == 2
    assert isinstance(first["people"], int) and f"for {first['people']} on" in text
    assert (first["date"], first["style"]) == ("2026-05-01", "quiet")  # dates and enums are kept
    assert original == _example()  # the input is not modified


def test_seeded() -> None:
    assert randomise_values(_example(), random.Random(3)) == randomise_values(_example(), random.Random(3))
    assert randomise_values(_example(), random.Random(3)) != randomise_values(_example(), random.Random(4))


def test_irrelevance_is_unchanged() -> None:
    ex = {"tools": [TOOL], "messages": [{"role": "user", "content": "Tell me a joke."},
                                        {"role": "assistant", "content": "No tool fits."}]}
    assert randomise_values(ex, random.Random(0)) == ex


def test_copy_drills_answer_only_with_what_the_request_spells_out() -> None:
    import json
    import random

    from toolsweep.data import pretrain_tools
    from toolsweep.models.augment import copy_drill

    rng = random.Random(0)
    kinds = set()
    for _ in range(200):
        drill = copy_drill(pretrain_tools(), rng)
        user, answer = drill["messages"][0]["content"], drill["messages"][1]
        if answer.get("tool_calls"):
            kinds.add("call")
            call = answer["tool_calls"][0]["function"]
            assert call["name"] in user and [t["function"]["name"] for t in drill["tools"]] == [call["name"]]
            required = drill["tools"][0]["function"]["parameters"].get("required", [])
            assert set(required) <= set(call["arguments"])
            for key, value in call["arguments"].items():
                assert f"{key} {value}" in user, json.dumps(drill)
        else:
            kinds.add("echo")
            assert user.endswith(answer["content"])
    assert kinds == {"call", "echo"}


def test_renamed_tools_keep_schema_and_calls_consistent() -> None:
    from toolsweep.models.augment import rename_tools

    other = {"type": "function", "function": {"name": "cancel", "description": "Cancel a booking.", "parameters": {
        "type": "object", "properties": {"booking_id": {"type": "string"}}, "required": ["booking_id"]}}}
    original = {**_example(), "tools": [TOOL, other]}
    out = rename_tools(original, random.Random(0))
    book, cancel = (t["function"] for t in out["tools"])
    assert book["name"] not in ("book", "cancel") and cancel["name"] not in ("book", "cancel", book["name"])
    assert book["description"] == "Book a table." and book["parameters"]["required"] == [next(iter(book["parameters"]["properties"]))]
    assert list(book["parameters"]["properties"].values()) == list(TOOL["function"]["parameters"]["properties"].values())
    assert set(book["parameters"]["properties"]).isdisjoint(TOOL["function"]["parameters"]["properties"])
    for before, after in zip(_example()["messages"][1]["tool_calls"], out["messages"][1]["tool_calls"]):
        assert after["function"]["name"] == book["name"]
        assert set(after["function"]["arguments"]) <= set(book["parameters"]["properties"])
        assert list(after["function"]["arguments"].values()) == list(before["function"]["arguments"].values())
    assert out["messages"][0] == original["messages"][0]  # the request is untouched: only names change
    assert original == {**_example(), "tools": [TOOL, other]}  # the input is not modified
    assert rename_tools(original, random.Random(0)) == out
