"""The fast decode path: finished rows leave the batch, the CPU decode attention equals SDPA, and vLLM gets our token ids."""

from __future__ import annotations

import pytest
import torch

from toolsweep.evaluation import decoding, generate_completions, render_prompt
from toolsweep.evaluation.tasks import as_tasks
from toolsweep.evaluation.testing import synthetic_examples

MAX_NEW = 12


@pytest.fixture(scope="module")
def varied_lm():
    """A random model whose greedy rows differ (see ``build_tiny_model``), so rows stop at different steps."""
    from toolsweep.evaluation.testing import build_tiny_model, build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    return build_tiny_model(tok, initializer_range=0.5), tok


@pytest.fixture(scope="module")
def prompts(varied_lm):
    _, tok = varied_lm
    return [render_prompt(tok, t.messages, t.tools) for t in as_tasks(synthetic_examples(8))]


def test_rows_that_finish_early_leave_the_batch_and_outputs_match_generate(varied_lm, prompts, monkeypatch):
    model, tok = varied_lm
    free = generate_completions(model, tok, prompts, max_new_tokens=MAX_NEW, batch_size=1, token_budget=None)
    assert len({tuple(row) for row in free.token_ids}) > 4
    # Stop tokens that end some rows after a few tokens and leave the last two running to the limit.
    stops = {row[2] for row in free.token_ids[:4]} - {t for row in free.token_ids[6:] for t in row}
    assert stops
    monkeypatch.setattr(decoding, "COMPACT_FRACTION", 0.0)  # drop rows as soon as they finish
    drops: list[int] = []
    original_reorder = None

    def spy(self, index):
        drops.append(len(index))
        return original_reorder(self, index)

    from transformers import StaticCache

    original_reorder = StaticCache.reorder_cache
    monkeypatch.setattr(StaticCache, "reorder_cache", spy)
    eos = model.generation_config.eos_token_id
    try:
        model.generation_config.eos_token_id = [tok.eos_token_id, *sorted(stops)]
        batched = generate_completions(model, tok, prompts, max_new_tokens=MAX_NEW, batch_size=8, max_padding=None)
        single = generate_completions(model, tok, prompts, max_new_tokens=MAX_NEW, batch_size=1, token_budget=None)
    finally:
        model.generation_config.eos_token_id = eos
    assert batched.n_batches == 1
    assert drops and drops[0] < len(prompts)  # the batch shrank once rows had finished
    assert batched.token_ids == single.token_ids
    assert any(len(row) < 3 for row in batched.token_ids) and any(len(row) == MAX_NEW for row in batched.token_ids)


def test_decode_attention_equals_sdpa_for_one_token_queries():
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    torch.manual_seed(0)
    batch, heads, kv_heads, length, dim = 5, 4, 2, 17, 8
    module = torch.nn.Module()
    module.num_key_value_groups = heads // kv_heads
    module.is_causal = True
    query = torch.randn(batch, heads, 1, dim)
    key, value = torch.randn(batch, kv_heads, length, dim), torch.randn(batch, kv_heads, length, dim)
    mask = torch.ones(batch, 1, 1, length, dtype=torch.bool)
    mask[0, ..., :6] = False  # left padding
    mask[:, ..., 12:] = False  # the static cache's unwritten tail
    ours, _ = decoding._decode_attention(module, query, key, value, mask, scaling=0.3)
    ref, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=0.3)
    assert ours.shape == ref.shape == (batch, 1, heads, dim)
    torch.testing.assert_close(ours, ref)
    # A prompt pass (several query tokens) goes to SDPA itself.
    many = torch.randn(batch, heads, 3, dim)
    causal = torch.ones(batch, 1, 3, length, dtype=torch.bool)
    torch.testing.assert_close(decoding._decode_attention(module, many, key, value, causal)[0],
                               sdpa_attention_forward(module, many, key, value, causal)[0])


def test_decode_attention_is_switched_on_for_the_block_only(varied_lm, prompts, monkeypatch):
    model, tok = varied_lm
    assert model.config._attn_implementation == "sdpa"
    calls = []
    original = decoding._decode_attention

    def counting(*args, **kwargs):
        calls.append(args[1].shape[2])
        return original(*args, **kwargs)

    monkeypatch.setattr(decoding, "_decode_attention", counting)
    decoding._register_decode_attention.cache_clear()
    try:
        generate_completions(model, tok, prompts[:3], max_new_tokens=4)
    finally:
        monkeypatch.undo()
        decoding._register_decode_attention.cache_clear()
        decoding._register_decode_attention()
    assert calls and set(calls) == {1}  # decode steps only; prompt passes ran before the switch
    assert model.config._attn_implementation == "sdpa"


def test_vllm_backend_gets_the_token_ids_the_transformers_path_uses(varied_lm, prompts, monkeypatch):
    """vLLM adds BOS to text prompts; token ids encoded like the hf path keep both backends on the same input.

    vLLM needs a GPU, so a stand-in module records what our code hands to vLLM's documented API."""
    import sys
    import types

    from toolsweep.evaluation.generation import generate_vllm

    _, tok = varied_lm
    seen: dict = {}

    class LLM:
        def __init__(self, model, **kwargs):
            seen["model"], seen["kwargs"] = model, kwargs

        def generate(self, inputs, params):
            seen["inputs"], seen["params"] = inputs, params
            done = types.SimpleNamespace(text="<tool_call>", token_ids=[5, 6])
            return [types.SimpleNamespace(outputs=[done]) for _ in inputs]

    fake = types.ModuleType("vllm")
    fake.LLM = LLM
    fake.SamplingParams = lambda **kwargs: kwargs
    monkeypatch.setitem(sys.modules, "vllm", fake)
    out = generate_vllm("/models/m", prompts[:3], tokenizer=tok, max_new_tokens=7, trust_remote_code=False)
    assert seen["inputs"] == [{"prompt_token_ids": tok(p, add_special_tokens=False)["input_ids"]} for p in prompts[:3]]
    assert seen["params"] == {"temperature": 0.0, "max_tokens": 7, "skip_special_tokens": False}
    assert seen["model"] == "/models/m" and seen["kwargs"] == {"trust_remote_code": False}
    assert out.texts == ["<tool_call>"] * 3 and out.n_generated_tokens == 6
