"""Shared fixtures: hand-written contract examples (docs/data_contract.md) for template tests."""

from __future__ import annotations

import pytest

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City"}},
                   "required": ["city"]}}}
SMS = {"type": "function", "function": {
    "name": "send_sms", "description": "Send a text message.",
    "parameters": {"type": "object", "properties": {"to": {"type": "string", "description": "To"},
                                                    "text": {"type": "string", "description": "Text"}},
                   "required": ["to", "text"]}}}


def _call(name: str, arguments: dict | str) -> dict:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


@pytest.fixture
def examples() -> list[dict]:
    """One example per category, plus a multi-turn one with a tool result and string arguments."""
    return [
        {"id": "simple", "category": "simple", "tools": [WEATHER],
         "messages": [{"role": "user", "content": "What's the weather in Lyon?"},
                      {"role": "assistant", "content": "", "tool_calls": [_call("get_weather", {"city": "Lyon"})]}]},
        {"id": "parallel", "category": "parallel", "tools": [SMS, WEATHER],
         "messages": [{"role": "user", "content": "Weather in New York and in Oslo?"},
                      {"role": "assistant", "content": "", "tool_calls": [
                          _call("get_weather", {"city": "New York"}), _call("get_weather", {"city": "Oslo"})]}]},
        {"id": "irrelevance", "category": "irrelevance", "tools": [SMS],
         "messages": [{"role": "user", "content": "Tell me a joke."},
                      {"role": "assistant", "content": "None of the available tools can do that."}]},
        {"id": "multi-turn", "category": "simple", "tools": [WEATHER],
         "messages": [{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": "Weather in Rome?"},
                      {"role": "assistant", "content": "",
                       "tool_calls": [_call("get_weather", '{"city": "Rome"}')]},
                      {"role": "tool", "content": '{"temp_c": 21}'},
                      {"role": "assistant", "content": "It is 21 degrees."}]},
    ]
