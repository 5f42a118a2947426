"""The argument validator: types (bool is not an int, int is a number), enum, required, unknown."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from toolsweep.data.tool_validation import type_matches, validate_arguments, validate_call

PARAMS = {"type": "object", "required": ["n"], "properties": {
    "n": {"type": "integer"}, "x": {"type": "number"}, "flag": {"type": "boolean"},
    "mode": {"type": "string", "enum": ["a", "b"]}, "tags": {"type": "array", "items": {"type": "string"}}}}


def _kinds(args):
    return [kind for kind, _ in validate_arguments(args, PARAMS)]


def test_valid_and_each_problem_kind():
    assert _kinds({"n": 1, "x": 2, "flag": False, "mode": "a", "tags": ["t"]}) == []
    assert _kinds({"n": 1, "x": 2.5}) == []
    assert _kinds({}) == ["missing_argument"]
    assert _kinds({"n": 1, "zzz": 0}) == ["unknown_argument"]
    assert _kinds({"n": "1"}) == ["wrong_type"]
    assert _kinds({"n": True}) == ["wrong_type"]
    assert _kinds({"n": 1.5}) == ["wrong_type"]
    assert _kinds({"n": 1, "flag": 1}) == ["wrong_type"]
    assert _kinds({"n": 1, "mode": "c"}) == ["enum_violation"]
    assert _kinds({"n": 1, "tags": ["ok", 3]}) == ["wrong_type"]
    assert _kinds([1]) == ["wrong_type"]


def test_validate_call_names_offered_tools():
    tools = [{"type": "function", "function": {"name": "f", "parameters": PARAMS}}]
    issues = validate_call({"type": "function", "function": {"name": "g", "arguments": {}}}, tools)
    assert issues[0][0] == "unknown_tool" and "offered: f" in issues[0][1]
    assert validate_call({"oops": 1}, tools)[0][0] == "bad_call"


@given(st.integers())
def test_integers_are_numbers(value):
    assert type_matches(value, "number") and type_matches(value, "integer")
    assert not type_matches(value, "string")


@given(st.booleans())
def test_booleans_are_not_numbers(value):
    assert type_matches(value, "boolean")
    assert not type_matches(value, "integer") and not type_matches(value, "number")
