"""A tiny random tool-calling LM built from config, for tests and benchmarks (no downloads).

Like ``optuna.testing``, this is shipped so that tests of other packages (and
``benchmarks/eval_batched.py``) can build the same model. It is random: its completions are noise,
which is what generation tests want (any difference between batched and single decoding shows up).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from toolsweep.models.chat_templates import chat_template_text

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]


def _corpus() -> list[str]:
    words = ["weather", "city", "Lyon", "Paris", "get_weather", "convert", "amount", "currency", "name",
             "arguments", "function", "type", "object", "string", "integer", "number", "properties",
             "required", "description", "What", "is", "the", "in", "please", "book", "flight", "to"]
    lines = [json.dumps({"name": w, "arguments": {w: i, "x": str(i)}}) for i, w in enumerate(words)]
    lines += [" ".join(words[i:] + words[:i]) for i in range(len(words))]
    lines += ["0123456789 {}[]\":,.-_ \n\t!?'"]
    return lines * 3


def build_tiny_tokenizer(extra_corpus: Iterable[str] = (), vocab_size: int = 400) -> Any:
    """Byte-level BPE trained in well under a second; ``<tool_call>`` tags are special tokens, so
    decoding has to keep special tokens for parsing to work. ``extra_corpus`` (e.g. rendered
    prompts) and a larger ``vocab_size`` give realistic prompt lengths for benchmarks."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([*_corpus(), *extra_corpus], trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=SPECIAL_TOKENS[1:])
    fast.chat_template = chat_template_text("hermes")  # the shipped template, not a copy of it
    return fast


def build_tiny_model(tokenizer: Any, *, hidden_size: int = 32, num_layers: int = 2, seed: int = 0,
                     initializer_range: float = 0.02) -> Any:
    """A random Qwen2 causal LM sized for unit tests (hidden 32, 2 layers by default).

    At the default ``initializer_range`` greedy decoding repeats one token for every prompt; 0.5
    gives rows that differ from each other, which tests of per-row stopping need."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval()


def build_tiny_lm(seed: int = 0, **model_kwargs: Any) -> tuple[Any, Any]:
    """(model, tokenizer) pair; see :func:`build_tiny_model` for the size knobs."""
    tokenizer = build_tiny_tokenizer()
    return build_tiny_model(tokenizer, seed=seed, **model_kwargs), tokenizer


def synthetic_examples(n: int) -> list[dict[str, Any]]:
    """Contract-format examples (simple, multiple, parallel, irrelevance in turn) for smoke runs."""
    weather = {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name."},
            "unit": {"type": "string", "description": "celsius or fahrenheit", "default": "celsius"}},
            "required": ["city"]}}}
    convert = {"type": "function", "function": {
        "name": "convert_currency", "description": "Convert an amount between currencies.",
        "parameters": {"type": "object", "properties": {
            "amount": {"type": "number"}, "from": {"type": "string"}, "to": {"type": "string"}},
            "required": ["amount", "from", "to"]}}}
    cities = ["Lyon", "Paris", "Oslo", "Lima", "Kyoto", "Cairo", "Quito", "Perth"]

    def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"type": "function", "function": {"name": name, "arguments": args}}

    out = []
    for i in range(n):
        city, other = cities[i % len(cities)], cities[(i + 3) % len(cities)]
        kind = ("simple", "multiple", "parallel", "irrelevance")[i % 4]
        if kind == "simple":
            tools, user = [weather], f"What's the weather in {city}?"
            answer = {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"city": city})]}
        elif kind == "multiple":
            tools, user = [weather, convert], f"Convert {10 + i} EUR to USD."
            answer = {"role": "assistant", "content": "", "tool_calls": [
                call("convert_currency", {"amount": 10 + i, "from": "EUR", "to": "USD"})]}
        elif kind == "parallel":
            tools, user = [weather], f"Weather in {city} and {other}, in fahrenheit."
            answer = {"role": "assistant", "content": "", "tool_calls": [
                call("get_weather", {"city": city, "unit": "fahrenheit"}),
                call("get_weather", {"city": other, "unit": "fahrenheit"})]}
        else:
            tools, user = [convert], f"Tell me a joke about {city}."
            answer = {"role": "assistant", "content": "I can only convert currencies."}
        out.append({"id": f"synthetic-{kind}-{i:04d}", "category": kind, "tools": tools,
                    "messages": [{"role": "user", "content": user}, answer]})
    return out
