"""Parser: Hermes blocks, malformed reasons, and property tests (never raises, round-trips)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolsweep.evaluation.parsing import (
    ARGUMENTS_NOT_OBJECT,
    INVALID_JSON,
    MISSING_NAME,
    NOT_AN_OBJECT,
    TEXT_IN_BLOCK,
    UNTERMINATED_BLOCK,
    ToolCall,
    parse_output,
    parse_tool_calls,
    parse_with_response_schema,
    render_call,
    render_calls,
)

WEATHER = '{"name": "get_weather", "arguments": {"city": "Lyon"}}'


def test_render_call_is_the_contract_format():
    assert render_call(ToolCall("get_weather", {"city": "Lyon"})) == f"<tool_call>\n{WEATHER}\n</tool_call>"


@pytest.mark.parametrize("text", [
    f"<tool_call>\n{WEATHER}\n</tool_call>",
    f"<tool_call>{WEATHER}</tool_call>",
    f"  <tool_call>  \r\n {WEATHER} \n\n </tool_call>\n<|im_end|>",
    f"<tool_call>\n{WEATHER}\n",  # unterminated final block at EOS, JSON complete
    f"<tool_call>\n{WEATHER}",
])
def test_one_call_tolerates_whitespace_and_missing_final_close(text):
    parsed = parse_tool_calls(text)
    assert parsed.calls == [ToolCall("get_weather", {"city": "Lyon"})]
    assert parsed.well_formed and parsed.malformed_reason is None


def test_parallel_blocks_keep_order_and_content_is_the_rest():
    text = ("Sure.\n" + render_call(ToolCall("a", {"x": 1})) + "\n" + render_call(ToolCall("b", {}))
            + "<|im_end|>")
    parsed = parse_tool_calls(text)
    assert [c.name for c in parsed.calls] == ["a", "b"]
    assert parsed.content == "Sure.\n\n<|im_end|>"
    assert parsed.n_blocks == 2


def test_plain_text_is_no_call_and_not_malformed():
    parsed = parse_tool_calls("I cannot help with that.")
    assert parsed.calls == [] and not parsed.malformed and parsed.content == "I cannot help with that."


def test_closing_tag_inside_a_string_argument_does_not_cut_the_block():
    call = ToolCall("echo", {"text": "</tool_call> <tool_call>"})
    assert parse_tool_calls(render_call(call)).calls == [call]


def test_missing_arguments_key_means_no_arguments():
    assert parse_tool_calls('<tool_call>{"name": "now"}</tool_call>').calls == [ToolCall("now", {})]


@pytest.mark.parametrize("body, reason", [
    ('{"name": "f", "arguments": {"a": 1,}}', INVALID_JSON),
    ("", INVALID_JSON),
    ('["f", {}]', NOT_AN_OBJECT),
    ('{"arguments": {}}', MISSING_NAME),
    ('{"name": "", "arguments": {}}', MISSING_NAME),
    ('{"name": "f", "arguments": "{\\"a\\": 1}"}', ARGUMENTS_NOT_OBJECT),
    ('{"name": "f", "arguments": {}} and more', TEXT_IN_BLOCK),
    ("call f(a=1)", INVALID_JSON),
])
def test_malformed_blocks_say_why(body, reason):
    parsed = parse_tool_calls(f"<tool_call>\n{body}\n</tool_call>")
    assert parsed.malformed and parsed.malformed_reason == reason
    assert parsed.calls == []
    assert parsed.errors and reason in parsed.errors[0]


def test_truncated_json_at_eos_is_unterminated():
    parsed = parse_tool_calls('<tool_call>\n{"name": "f", "arguments": {"a": ')
    assert parsed.malformed_reason == UNTERMINATED_BLOCK


def test_a_broken_block_does_not_hide_the_good_ones():
    text = '<tool_call>\n{"name": "f", "arguments": {\n<tool_call>\n{"name": "g", "arguments": {}}\n</tool_call>'
    parsed = parse_tool_calls(text)
    assert parsed.malformed and parsed.calls == [ToolCall("g", {})]


def test_model_output_is_never_evaluated():
    parsed = parse_tool_calls('<tool_call>\n{"name": "f", "arguments": {"a": __import__("os").getcwd()}}\n</tool_call>')
    assert parsed.malformed_reason == INVALID_JSON


def test_response_schema_path(tiny_lm):
    trl_templates = pytest.importorskip("trl.chat_template_utils")
    from toolsweep.evaluation.testing import build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    tok.chat_template = trl_templates.qwen2_5_chat_template
    text = render_call(ToolCall("multiply", {"a": 3, "b": 4})) + "<|im_end|>"
    parsed = parse_with_response_schema(text, tok)
    if parsed is None:
        pytest.skip("this transformers/trl pair cannot parse Qwen2.5 responses")
    assert parsed.calls == [ToolCall("multiply", {"a": 3, "b": 4})]
    # A tokenizer whose template TRL does not know falls back to the Hermes parser.
    plain = build_tiny_tokenizer()
    assert parse_with_response_schema(text, plain) is None
    assert parse_output(text, plain).calls == [ToolCall("multiply", {"a": 3, "b": 4})]


# ---- property tests --------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
calls = st.builds(ToolCall, name=st.text(min_size=1, max_size=20),
                  arguments=st.dictionaries(st.text(max_size=10), json_values, max_size=5))
fragments = st.sampled_from(["<tool_call>", "</tool_call>", "\n", "{", "}", '"name"', ":", '"arguments"', "[", "]",
                             '"', "\\", ",", "1e999999", "9" * 5000, "[" * 3000, " ", "<|im_end|>"])


@settings(max_examples=300, deadline=None)
@given(st.text() | st.lists(fragments | st.text(max_size=5), max_size=40).map("".join))
def test_arbitrary_text_never_raises(text):
    parsed = parse_tool_calls(text)
    assert isinstance(parsed.calls, list)
    assert parsed.malformed == bool(parsed.errors)


@settings(max_examples=200, deadline=None)
@given(calls)
def test_rendered_call_parses_back(call):
    parsed = parse_tool_calls(render_call(call))
    assert parsed.well_formed
    assert parsed.calls == [call]
    assert json.dumps(parsed.calls[0].arguments) == json.dumps(call.arguments)


@settings(max_examples=100, deadline=None)
@given(st.lists(calls, min_size=1, max_size=5), st.text(alphabet=st.characters(blacklist_characters="<"), max_size=20))
def test_several_rendered_calls_parse_back_in_order(call_list, prefix):
    parsed = parse_tool_calls(prefix + render_calls(call_list))
    assert parsed.well_formed
    assert parsed.calls == call_list
    assert parsed.content == prefix.strip()
