"""When2Call's multiple-choice evaluation on the tiny random model: each candidate's score is the model's own
length-normalised log-likelihood, batching and padding change nothing, and the metrics are the paper's."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from toolsweep.data.loaders import DataValidationError, load_when2call_mcq
from toolsweep.evaluation import when2call
from toolsweep.evaluation.when2call import (
    candidate_texts,
    choose,
    mc_metrics,
    multiple_choice_eval,
    score_candidates,
)

MCQ = Path(__file__).parents[1] / "data" / "fixtures" / "when2call" / "when2call_test_mcq.jsonl"


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def items():
    report = load_when2call_mcq(MCQ, strict=True)
    assert report.total == len(report.examples) == 6
    return report.examples


def _direct_score(model, tokenizer, item, kind):
    """Sum of the answer's token log-probs / its token count, one unpadded sequence, no helper of the module."""
    import torch

    tools = item["tools"] or None
    prompt = tokenizer.apply_chat_template(item["prompt"], tools=tools, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template([*item["prompt"], item["choices"][kind]], tools=tools, tokenize=False)
    answer = full[len(prompt):].rstrip()
    context = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = tokenizer(prompt + answer, add_special_tokens=False)["input_ids"]
    assert ids[:len(context)] == context
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
    total = sum(logprobs[i - 1, ids[i]].item() for i in range(len(context), len(ids)))
    return total / (len(ids) - len(context)), total, len(answer)


def test_candidates_are_rendered_by_the_models_template(tiny, items):
    _, tokenizer = tiny
    prompt, continuations = candidate_texts(tokenizer, items[0])
    assert prompt.endswith("<|im_start|>assistant\n") and "Weather_1_GetWeather" in prompt
    assert list(continuations) == ["direct", "tool_call", "request_for_info", "cannot_answer"]
    assert continuations["tool_call"] == ('<tool_call>\n{"name": "Weather_1_GetWeather", "arguments": '
                                          '{"city": "Lyon", "date": "2023-05-02"}}\n</tool_call><|im_end|>')
    assert continuations["cannot_answer"] == "I'm sorry, I can't get weather forecasts.<|im_end|>"
    no_tools, _ = candidate_texts(tokenizer, items[3])
    assert "Tools:" not in no_tools


def test_score_equals_a_direct_unbatched_computation(tiny, items):
    model, tokenizer = tiny
    batched = score_candidates(model, tokenizer, items, batch_size=8)
    summed = score_candidates(model, tokenizer, items[:2], batch_size=8, length_norm="none")
    by_chars = score_candidates(model, tokenizer, items[:2], batch_size=8, length_norm="chars")
    for index in (0, 1, 3):
        for kind in ("tool_call", "request_for_info"):
            expected, total, chars = _direct_score(model, tokenizer, items[index], kind)
            assert batched[index][kind] == pytest.approx(expected, abs=1e-4)
            if index < 2:
                assert summed[index][kind] == pytest.approx(total, abs=1e-4)
                assert by_chars[index][kind] == pytest.approx(total / chars, abs=1e-5)


def test_batching_and_padding_change_no_choice(tiny, items):
    model, tokenizer = tiny
    one = score_candidates(model, tokenizer, items, batch_size=1)
    for batch_size in (3, 8, 24):
        many = score_candidates(model, tokenizer, items, batch_size=batch_size)
        assert choose(many) == choose(one)
        for a, b in zip(one, many, strict=True):
            assert a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-4 for k in a)
    margins = [top - second for second, top in (sorted(row.values())[-2:] for row in one)]
    assert min(margins) > 1e-4  # so equal choices are not luck of ties


def test_model_mode_is_restored(tiny, items):
    model, tokenizer = tiny
    model.train()
    try:
        multiple_choice_eval(model, tokenizer, items[:1], batch_size=4)
        assert model.training
    finally:
        model.eval()
    multiple_choice_eval(model, tokenizer, items[:1], batch_size=4)
    assert not model.training


# gold: tool_call, request_for_info, cannot_answer, cannot_answer (no tools), tool_call, cannot_answer (no tools)
PREDICTED = ["tool_call", "tool_call", "cannot_answer", "tool_call", "direct", "cannot_answer"]


def test_metrics_on_a_constructed_case(tiny, items, monkeypatch):
    model, tokenizer = tiny
    fixed = [{kind: (0.0 if kind == chosen else -1.0) for kind in item["choices"]}
             for item, chosen in zip(items, PREDICTED, strict=True)]
    monkeypatch.setattr(when2call, "score_candidates", lambda *args, **kwargs: fixed)
    metrics = multiple_choice_eval(model, tokenizer, items)
    # tool_call: tp 1, fp 2, fn 1 -> 0.4; request_for_info: 0; cannot_answer: tp 2, fn 1 -> 0.8; direct: fp 1 -> 0
    assert metrics == pytest.approx({
        "when2call/accuracy": 0.5, "when2call/n_examples": 6.0, "when2call/macro_f1": 0.3,
        "when2call/f1/direct": 0.0, "when2call/f1/tool_call": 0.4, "when2call/f1/request_for_info": 0.0,
        "when2call/f1/cannot_answer": 0.8, "when2call/tool_hallucination_rate": 0.5})
    from sklearn.metrics import f1_score

    gold = [item["correct_answer"] for item in items]
    assert metrics["when2call/macro_f1"] == pytest.approx(f1_score(gold, PREDICTED, average="macro"))


def test_hallucination_rate_needs_toolless_cannot_answer_rows(items):
    with_tools = [item for item in items if item["tools"]]
    metrics = mc_metrics(with_tools, ["tool_call"] * len(with_tools), prefix="val/when2call")
    assert "val/when2call/tool_hallucination_rate" not in metrics
    assert metrics["val/when2call/accuracy"] == pytest.approx(2 / 4)
    assert math.isclose(mc_metrics(items, ["tool_call"] * 6)["when2call/tool_hallucination_rate"], 1.0)
    with pytest.raises(ValueError, match="one prediction per row"):
        mc_metrics(items, ["tool_call"])


def test_raw_rows_are_accepted(tiny, items):
    model, tokenizer = tiny
    raw = [json.loads(line) for line in MCQ.read_text().splitlines()]
    assert multiple_choice_eval(model, tokenizer, raw) == multiple_choice_eval(model, tokenizer, items)
    with pytest.raises(ValueError, match="row 0: .*'question'"):
        multiple_choice_eval(model, tokenizer, [{k: v for k, v in raw[0].items() if k != "question"}])


def test_bad_mcq_rows_are_reported(tmp_path):
    rows = MCQ.read_text().splitlines()
    broken = json.loads(rows[1])
    broken["answers"]["tool_call"] = "{\"name\": "
    path = tmp_path / "mcq.jsonl"
    path.write_text("\n".join([rows[0], json.dumps(broken), "", "not json", rows[2]]) + "\n")
    report = load_when2call_mcq(path)
    assert report.total == 4 and len(report.examples) == 2
    assert [(e.line, e.kind) for e in report.errors] == [(2, "bad_call"), (4, "invalid_json")]
    assert "answers.tool_call" in report.errors[0].reason
    with pytest.raises(DataValidationError, match=r"mcq.jsonl:2: "):
        load_when2call_mcq(path, strict=True)
