"""Preference pairs: each rejection kind differs from the chosen answer in exactly the claimed way."""

from __future__ import annotations

import json

import pytest

from toolsweep.data import REJECTION_KINDS, builtin_dataset, make_preference_pairs, target_tools
from toolsweep.data.catalogue import confusables_of
from toolsweep.data.templates import clarifying_question
from toolsweep.data.tool_validation import validate_call


@pytest.fixture(scope="module")
def examples():
    return builtin_dataset("train", 240, seed=5)


def _pairs(examples, kind, **kw):
    pairs = make_preference_pairs(examples, {kind: 1.0}, seed=1, **kw)
    assert pairs and all(p["rejection_kind"] == kind for p in pairs)
    return pairs


def _calls(message):
    return message.get("tool_calls", [])


def _changed(pair):
    """(chosen call, rejected call) pairs whose content differs."""
    return [(c, r) for c, r in zip(_calls(pair["chosen"][0]), _calls(pair["rejected"][0]))
            if json.dumps(c) != json.dumps(r)]  # json: True == 1 in Python but not in JSON


def test_pair_shape(examples):
    pairs = make_preference_pairs(examples, None, seed=0, tools_pool=target_tools())
    assert len(pairs) == len(examples)
    assert {p["rejection_kind"] for p in pairs} == set(REJECTION_KINDS)
    for pair, example in zip(pairs, examples):
        assert pair["prompt"] == example["messages"][:-1]
        assert pair["chosen"] == example["messages"][-1:]
        assert pair["rejected"][0]["role"] == "assistant" and pair["rejected"] != pair["chosen"]
        json.dumps(pair)
    assert pairs == make_preference_pairs(examples, None, seed=0, tools_pool=target_tools())


def test_wrong_tool_uses_an_offered_tool_confusable_first(examples):
    confusable = 0
    for pair in _pairs(examples, "wrong_tool", tools_pool=target_tools()):
        (chosen, rejected), = _changed(pair)
        offered = {t["function"]["name"] for t in pair["tools"]}
        assert rejected["function"]["name"] != chosen["function"]["name"]
        assert rejected["function"]["name"] in offered
        confusable += rejected["function"]["name"] in confusables_of(chosen["function"]["name"])
    assert confusable > 0


def test_wrong_tool_adds_a_tool_when_only_one_is_offered(examples):
    lonely = [e for e in examples if len(e["tools"]) == 1 and _calls(e["messages"][-1])]
    assert lonely
    assert make_preference_pairs(lonely, ["wrong_tool"], seed=0) == []
    for pair, example in zip(_pairs(lonely, "wrong_tool", tools_pool=target_tools()), lonely):
        assert len(pair["tools"]) == 2 and pair["tools"][0] == example["tools"][0]


def test_missing_argument_drops_one_required(examples):
    for pair in _pairs(examples, "missing_argument"):
        (chosen, rejected), = _changed(pair)
        dropped = set(chosen["function"]["arguments"]) - set(rejected["function"]["arguments"])
        assert len(dropped) == 1
        assert [k for k, _ in validate_call(rejected, pair["tools"])] == ["missing_argument"]


def test_wrong_type_changes_one_type(examples):
    for pair in _pairs(examples, "wrong_type"):
        (chosen, rejected), = _changed(pair)
        a, b = chosen["function"]["arguments"], rejected["function"]["arguments"]
        diff = [k for k in a if json.dumps(a[k]) != json.dumps(b[k])]
        assert len(diff) == 1 and type(a[diff[0]]) is not type(b[diff[0]])
        assert "wrong_type" in [k for k, _ in validate_call(rejected, pair["tools"])]


def test_wrong_value_keeps_the_schema_valid(examples):
    for pair in _pairs(examples, "wrong_value"):
        (chosen, rejected), = _changed(pair)
        a, b = chosen["function"]["arguments"], rejected["function"]["arguments"]
        assert set(a) == set(b) and len([k for k in a if a[k] != b[k]]) == 1
        assert validate_call(rejected, pair["tools"]) == []


def test_some_wrong_values_are_near_misses_of_the_copy(examples):
    near = 0
    for pair in _pairs(examples, "wrong_value"):
        (chosen, rejected), = _changed(pair)
        a, b = chosen["function"]["arguments"], rejected["function"]["arguments"]
        (key,) = [k for k in a if a[k] != b[k]]
        request = pair["prompt"][-1]["content"]
        if isinstance(a[key], str) and isinstance(b[key], str) and b[key] in request and (b[key] in a[key] or a[key] in b[key]):
            near += 1  # a word short, a word too far or too early: still a substring-level slip of the copy
    assert near >= 10


def test_invented_argument_adds_one_unknown(examples):
    for pair in _pairs(examples, "invented_argument"):
        (chosen, rejected), = _changed(pair)
        extra = set(rejected["function"]["arguments"]) - set(chosen["function"]["arguments"])
        assert len(extra) == 1
        assert [k for k, _ in validate_call(rejected, pair["tools"])] == ["unknown_argument"]


def test_malformed_json_is_a_broken_block(examples):
    for pair in _pairs(examples, "malformed_json"):
        rejected = pair["rejected"][0]
        assert "tool_calls" not in rejected and rejected["content"].startswith("<tool_call>\n")
        blocks = rejected["content"].split("<tool_call>\n")[1:]
        assert len(blocks) == len(_calls(pair["chosen"][0]))
        broken = 0
        for block in blocks:
            block = block.rstrip("\n")
            try:
                assert block.endswith("\n</tool_call>")
                json.loads(block.removesuffix("\n</tool_call>"))
            except (AssertionError, json.JSONDecodeError):
                broken += 1
        assert broken == 1


def test_spurious_and_missed_calls(examples):
    spurious = _pairs(examples, "spurious_call")
    assert all(p["category"] in ("irrelevance", "clarify") for p in spurious)
    for pair in spurious:
        assert not _calls(pair["chosen"][0])
        (call,) = _calls(pair["rejected"][0])
        assert validate_call(call, pair["tools"]) == []
    for pair in _pairs(examples, "missed_call"):
        assert _calls(pair["chosen"][0]) and not _calls(pair["rejected"][0])
        assert pair["rejected"][0]["content"]


def test_asked_needlessly_asks_for_a_value_the_request_gave(examples):
    """The rejected answer is the clarify rows' question, for an argument the chosen call fills: a pair whose
    answers differ in their first token on a row where the call is right (the clarify and irrelevance pairs
    are the other way round)."""
    pairs = _pairs(examples, "asked_needlessly")
    assert {p["category"] for p in pairs} <= {"simple", "multiple", "parallel"}
    for pair in pairs:
        given = {k for call in _calls(pair["chosen"][0]) for k in call["function"]["arguments"]}
        rejected = pair["rejected"][0]
        assert not _calls(rejected) and rejected["content"].startswith("Which ") and rejected["content"].endswith("?")
        assert any(rejected["content"] == clarifying_question(name) for name in given)


def test_inapplicable_kinds_fall_back_or_skip():
    tool = {"type": "function", "function": {"name": "ping", "description": "Ping.",
                                             "parameters": {"type": "object", "properties": {}, "required": []}}}
    example = {"id": "p", "category": "simple", "tools": [tool], "messages": [
        {"role": "user", "content": "ping"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "ping", "arguments": {}}}]}]}
    pairs = make_preference_pairs([example] * 20, {"missing_argument": 5, "wrong_type": 5, "missed_call": 1}, seed=0)
    assert {p["rejection_kind"] for p in pairs} == {"missed_call"}
    assert make_preference_pairs([example], ["missing_argument", "spurious_call"], seed=0) == []


def test_kind_weights_shape_the_mix(examples):
    calls_only = [e for e in examples if e["category"] != "irrelevance"]
    pairs = make_preference_pairs(calls_only, {"wrong_value": 3, "missed_call": 1, "spurious_call": 0}, seed=2)
    share = sum(p["rejection_kind"] == "wrong_value" for p in pairs) / len(pairs)
    assert 0.62 <= share <= 0.88
    with pytest.raises(ValueError, match="unknown rejection kind 'typo'"):
        make_preference_pairs(examples, {"typo": 1.0})


def test_invented_value_guesses_what_a_clarify_request_left_out(examples):
    pairs = _pairs(examples, "invented_value")
    assert pairs and all(p["category"] == "clarify" for p in pairs)
    assert len(pairs) == sum(e["category"] == "clarify" for e in examples)
    for pair in pairs:
        example = next(e for e in examples if pair["id"].startswith(e["id"]))
        intended = example["clarify"]
        assert pair["chosen"][0]["content"].endswith("?") and not _calls(pair["chosen"][0])
        (call,) = _calls(pair["rejected"][0])
        assert call["function"]["name"] == intended["tool"]
        args = call["function"]["arguments"]
        assert {k: v for k, v in args.items() if k != intended["missing"]} == intended["arguments"]
        assert intended["missing"] in args and validate_call(call, pair["tools"]) == []
