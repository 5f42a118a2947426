"""The tokenizer and chat template, on a small tokenizer trained from hand-written examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer, LlamaConfig

from toolsweep.models.tokenizer import EOS_TOKEN, TOOL_TOKENS, render, train_tokenizer


@pytest.fixture
def tokenizer(examples: list[dict]):
    corpus = [render(ex) for ex in examples] * 3 + [json.dumps(ex) for ex in examples]
    return train_tokenizer(corpus, vocab_size=400, min_frequency=1)


def _assistant_text(tokenizer, example: dict) -> str:
    out = tokenizer.apply_chat_template(example["messages"], tools=example["tools"], return_dict=True,
                                        return_assistant_tokens_mask=True)
    return tokenizer.decode([t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m])


def test_render_matches_the_contract_call_format(examples: list[dict]) -> None:
    text = render(examples[1])
    assert ('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "New York"}}\n'
            '</tool_call>\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
            + EOS_TOKEN) in text
    assert '\nsend_sms(to: string (To), text: string (Text)): Send a text message.' in text
    assert text.startswith("<|im_start|>system\nTools:\n")


def test_string_arguments_system_and_tool_turns(examples: list[dict]) -> None:
    text = render(examples[3])
    assert text.startswith("<|im_start|>system\nBe brief.\nTools:\n")
    assert '{"name": "get_weather", "arguments": {"city": "Rome"}}' in text
    assert '<|im_start|>tool\n{"temp_c": 21}<|im_end|>\n' in text


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_assistant_mask_covers_exactly_the_assistant_output_and_eos(tokenizer, examples, index) -> None:
    example = examples[index]
    expected = ""
    for m in example["messages"]:
        if m["role"] == "assistant":
            body = render({"messages": [m], "tools": None})
            expected += body[len("<|im_start|>assistant\n"):].rstrip("\n")
    assert _assistant_text(tokenizer, example) == expected
    assert expected.endswith(EOS_TOKEN)


def test_generation_prompt_is_a_prefix_of_the_full_conversation(tokenizer, examples) -> None:
    ex = examples[0]
    prompt = tokenizer.apply_chat_template(ex["messages"][:1], tools=ex["tools"], add_generation_prompt=True,
                                           return_dict=True)["input_ids"]
    full = tokenizer.apply_chat_template(ex["messages"], tools=ex["tools"], return_dict=True)["input_ids"]
    assert tokenizer.decode(prompt).endswith("<|im_start|>assistant\n")
    assert full[: len(prompt)] == prompt


def test_tool_call_tags_are_single_tokens_that_survive_skip_special(tokenizer) -> None:
    for tag in TOOL_TOKENS:
        assert len(tokenizer(tag)["input_ids"]) == 1
    ids = tokenizer('<tool_call>\n{"name": "x"}\n</tool_call><|im_end|>')["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == '<tool_call>\n{"name": "x"}\n</tool_call>'


def test_a_value_tokenizes_the_same_in_the_request_and_in_the_call(tokenizer) -> None:
    def pieces(text: str) -> list[int]:
        return tokenizer(text)["input_ids"]
    value = pieces("New York")
    request, call = pieces("weather in New York today"), pieces('{"city": "New York"}')
    assert any(request[i:i + len(value)] == value for i in range(len(request)))
    assert any(call[i:i + len(value)] == value for i in range(len(call)))


def test_ids_round_trip_through_save_and_autotokenizer(tokenizer, examples, tmp_path: Path) -> None:
    tokenizer.save_pretrained(tmp_path)
    LlamaConfig(vocab_size=len(tokenizer)).save_pretrained(tmp_path)  # model_type llama beside it
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    texts = [render(ex) for ex in examples] + ["Zürich café 3.5 km  émoji 🚀 unseen_wordz"]
    for text in texts:
        assert reloaded(text)["input_ids"] == tokenizer(text)["input_ids"]
        assert reloaded.decode(reloaded(text)["input_ids"]) == text
    assert reloaded.chat_template == tokenizer.chat_template
    assert (reloaded.eos_token, reloaded.pad_token) == (tokenizer.eos_token, tokenizer.pad_token)
