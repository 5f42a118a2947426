"""Generation with a tiny random Qwen2: batching must not change greedy outputs; EOS stops rows."""

from __future__ import annotations

import json

import pytest

from toolsweep.evaluation import (
    evaluate,
    evaluate_completions,
    evaluate_path,
    generate_completions,
    plan_batches,
    render_calls,
    render_prompt,
)
from toolsweep.evaluation.ground_truth import calls_from_ground_truth
from toolsweep.evaluation.parsing import ToolCall
from toolsweep.evaluation.tasks import as_tasks
from toolsweep.evaluation.testing import synthetic_examples

MAX_NEW = 12


@pytest.fixture(scope="module")
def prompts(tiny_lm):
    _, tok = tiny_lm
    tasks = as_tasks(synthetic_examples(8))
    out = [render_prompt(tok, t.messages, t.tools) for t in tasks]
    assert len({len(tok(p)["input_ids"]) for p in out}) > 2  # lengths differ: padding is exercised
    return out


def test_plan_batches_token_budget():
    lengths = [10, 50, 30, 20]
    assert plan_batches(lengths, 10, token_budget=None, batch_size=2) == [[1, 2], [3, 0]]
    # longest first; a batch grows while size * (longest + max_new) <= budget
    assert plan_batches(lengths, 10, token_budget=120, max_padding=None) == [[1, 2], [3, 0]]
    assert plan_batches(lengths, 10, token_budget=1000, batch_size=3, max_padding=None) == [[1, 2, 3], [0]]
    # a batch closes when a prompt is shorter than (1 - max_padding) x the batch's longest
    assert plan_batches(lengths, 10, token_budget=1000, max_padding=0.5) == [[1, 2], [3, 0]]
    assert plan_batches([100, 90, 80, 70], 10, token_budget=1000, max_padding=0.25) == [[0, 1, 2], [3]]
    assert plan_batches([500], 10, token_budget=100) == [[0]]  # too long alone still runs
    with pytest.raises(ValueError, match="batch_size"):
        plan_batches(lengths, 10, batch_size=0)
    with pytest.raises(ValueError, match="max_padding"):
        plan_batches(lengths, 10, max_padding=1.5)


@pytest.mark.parametrize("separate_prefill", [True, False])
def test_batched_equals_one_at_a_time(tiny_lm, prompts, separate_prefill):
    model, tok = tiny_lm
    batched = generate_completions(model, tok, prompts, max_new_tokens=MAX_NEW, batch_size=8, max_padding=None,
                                   separate_prefill=separate_prefill)
    single = generate_completions(model, tok, prompts, max_new_tokens=MAX_NEW, batch_size=1, token_budget=None)
    assert batched.n_batches == 1 and single.n_batches == len(prompts)
    assert batched.texts == single.texts
    assert batched.token_ids == single.token_ids
    assert all(batched.texts)


def test_separate_prefill_builds_a_static_cache_without_deprecated_names(tiny_lm, prompts):
    # The fast path must really run: a renamed cache field in transformers would silently fall back to
    # the padded prompt pass (5.24 renamed past_key_values to cache and warns on the old name).
    import warnings

    import torch
    from transformers import StaticCache

    from toolsweep.evaluation.decoding import prefilled_cache

    model, tok = tiny_lm
    rows = [tok(p)["input_ids"] for p in prompts[:3]]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        with torch.inference_mode():
            assert isinstance(prefilled_cache(model, rows, torch.device("cpu"), MAX_NEW), StaticCache)
        generate_completions(model, tok, prompts[:3], max_new_tokens=2)


def test_left_padding_matches_plain_generate(tiny_lm, prompts):
    import torch

    model, tok = tiny_lm
    ours = generate_completions(model, tok, prompts, max_new_tokens=MAX_NEW).texts
    for prompt, text in zip(prompts, ours):
        ids = torch.tensor([tok(prompt)["input_ids"]])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=MAX_NEW, do_sample=False,
                             pad_token_id=tok.pad_token_id)
        ref = out[0, ids.shape[1]:].tolist()
        ref = ref[: ref.index(tok.eos_token_id)] if tok.eos_token_id in ref else ref
        assert tok.decode(ref, skip_special_tokens=False) == text


def test_eos_stops_each_row_and_the_batch(tiny_lm, prompts):
    model, tok = tiny_lm
    free = generate_completions(model, tok, prompts, max_new_tokens=MAX_NEW)
    token_rows = free.token_ids
    stop = token_rows[0][3]  # make a token the first row emits at step 4 an EOS
    original = model.generation_config.eos_token_id
    try:
        model.generation_config.eos_token_id = [tok.eos_token_id, stop]
        cut = generate_completions(model, tok, prompts, max_new_tokens=MAX_NEW, separate_prefill=False)
        for row, text in zip(token_rows, cut.texts):
            expected = row[: row.index(stop)] if stop in row else row
            assert text == tok.decode(expected, skip_special_tokens=False)
        firsts = sorted({row[0] for row in token_rows})
        model.generation_config.eos_token_id = [tok.eos_token_id, *firsts]
        done = generate_completions(model, tok, prompts, max_new_tokens=MAX_NEW, batch_size=8, max_padding=None)
        assert done.texts == [""] * len(prompts)
        assert done.n_steps == 1  # the batch stopped when every row had finished
    finally:
        model.generation_config.eos_token_id = original


def test_special_tool_call_tokens_survive_decoding(tiny_lm):
    _, tok = tiny_lm
    text = render_calls([ToolCall("f", {"a": 1})])
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.convert_tokens_to_ids("<tool_call>") in ids  # a special token in this tokenizer
    assert tok.decode(ids, skip_special_tokens=False) == text


def test_evaluate_end_to_end_writes_failures(tiny_lm, tmp_path):
    model, tok = tiny_lm
    examples = synthetic_examples(8)
    report = evaluate(model, tok, examples, max_new_tokens=8, failures_path=tmp_path / "fail.jsonl")
    flat = report.to_flat_dict()
    assert {"exact_match", "tool_selection", "well_formed", "errors/missed_call", "gen/tokens_per_second"} <= set(flat)
    lines = (tmp_path / "fail.jsonl").read_text().splitlines()
    assert len(lines) == sum(not r.passed for r in report.results)
    assert json.loads(lines[0])["raw_output"] is not None
    assert model.training is False


def test_perfect_completions_score_100_percent():
    examples = synthetic_examples(12)
    texts = [render_calls(calls_from_ground_truth(t.ground_truth)) or "No tool fits." for t in as_tasks(examples)]
    report = evaluate_completions(examples, texts)
    assert report.exact_match == 1.0
    assert report.metrics.irrelevance_accuracy.value == 1.0


def test_evaluate_path_loads_safetensors(tiny_lm, tmp_path):
    model, tok = tiny_lm
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").exists()
    report = evaluate_path(tmp_path / "m", synthetic_examples(4), backend="hf", max_new_tokens=4)
    direct = evaluate(model, tok, synthetic_examples(4), max_new_tokens=4)
    assert [r.raw_output for r in report.results] == [r.raw_output for r in direct.results]
    with pytest.raises(ValueError, match="backend"):
        evaluate_path(tmp_path / "m", [], backend="tgi")  # type: ignore[arg-type]
