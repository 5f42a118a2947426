"""``dpo.rejected: on_policy``: the model's own wrong answers become DPO's rejections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.trainers.conftest import pairs_from
from toolsweep.config.schema import SweepSpec
from toolsweep.errors import UserError
from toolsweep.evaluation import runner
from toolsweep.evaluation.runner import EvalReport
from toolsweep.evaluation.scoring import ExampleResult
from toolsweep.trainers.on_policy import on_policy_pairs
from toolsweep.trainers.pipeline import run_pipeline


def _result(passed: bool, raw: str, kind: str | None) -> ExampleResult:
    return ExampleResult(id="x", category="simple", passed=passed, error_kind=kind, error_kinds=[kind] if kind else [],
                         errors=[], tool_selection_correct=passed, well_formed=True, arg_tp=0, arg_fp=0, arg_fn=0,
                         n_expected_calls=1, n_predicted_calls=1, raw_output=raw)


def test_wrong_answers_replace_the_rejection_and_right_ones_keep_it(monkeypatch: pytest.MonkeyPatch,
                                                                    examples: list[dict]) -> None:
    pairs = pairs_from(examples[:3])
    outputs = [_result(False, "<tool_call>\n{\"name\": \"get_weather\"}\n</tool_call>", "missing_argument"),
               _result(True, "right", None),
               _result(False, "\n\n", "missed_call")]  # writing nothing is a mistake as well
    seen: list[list[dict]] = []

    def fake_evaluate(model, tokenizer, rows, **kwargs):
        seen.append(rows)
        return EvalReport(metrics=None, results=outputs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "evaluate", fake_evaluate)
    found = on_policy_pairs(object(), None, pairs, max_new_tokens=8)
    # each pair's prompt and chosen turn are scored as an evaluation row over the pair's own tools
    assert [row["messages"] for row in seen[0]] == [p["prompt"] + p["chosen"] for p in pairs]
    assert [row["tools"] for row in seen[0]] == [p["tools"] for p in pairs]
    assert found.pairs[0]["rejected"] == [{"role": "assistant", "content": outputs[0].raw_output}]
    assert found.pairs[0]["rejection_kind"] == "on_policy:missing_argument"
    assert found.pairs[1]["rejected"] == pairs[1]["rejected"] and found.pairs[1]["rejection_kind"] == "wrong_tool"
    assert found.pairs[2]["rejected"] == [{"role": "assistant", "content": "\n\n"}]
    assert found.replaced == 2 and found.metrics()["dpo/on_policy_rejected"] == pytest.approx(2 / 3)
    assert pairs[0]["rejected"][0]["tool_calls"]  # the input pairs are left as they were


def test_a_trial_trains_dpo_on_its_own_mistakes_and_a_rerun_reads_them_back(tiny_model_dir: Path,
                                                                           tmp_path: Path) -> None:
    spec = SweepSpec.model_validate({
        "name": "tiny", "model": {"name": str(tiny_model_dir)},
        "data": {"train_examples": 16, "preference_pairs": 8, "validation_examples": 4, "test_examples": 4},
        "lora": {"r": 4},
        "sft": {"max_steps": 2, "batch_size": 4, "eval_every": 2},
        "dpo": {"max_steps": 2, "batch_size": 4, "eval_every": 2, "rejected": "on_policy"},
        "eval": {"max_new_tokens": 12, "validation_subset": 4},
    })
    result = run_pipeline(spec, tmp_path / "trial", validate_during_training=False)
    saved = tmp_path / "trial" / "dpo" / "on_policy_pairs.jsonl"
    pairs = [json.loads(line) for line in saved.read_text().splitlines()]
    assert len(pairs) == 8
    # a random model is wrong almost everywhere: its own text is what DPO pushes down
    replaced = [p for p in pairs if p["rejection_kind"].startswith("on_policy:")]
    assert replaced and all(set(p["rejected"][0]) == {"role", "content"} for p in replaced)
    assert result.metrics["dpo/on_policy_rejected"] == pytest.approx(len(replaced) / 8)
    assert result.stages["dpo"].steps == 2

    # A DPO stage that restarts reads the pairs it was answering for instead of generating other ones.
    (tmp_path / "trial" / "dpo" / "stage.json").unlink()
    again = run_pipeline(spec, tmp_path / "trial", validate_during_training=False)
    assert again.metrics["dpo/on_policy_rejected"] == result.metrics["dpo/on_policy_rejected"]
    assert again.metrics["dpo/on_policy_seconds"] == 0.0

    # A damaged file is named with its line; nothing is guessed from it.
    lines = saved.read_text().splitlines()
    saved.write_text("\n".join([lines[0], lines[1][:40], *lines[2:]]) + "\n")
    (tmp_path / "trial" / "dpo" / "stage.json").unlink()
    with pytest.raises(UserError, match=r"on_policy_pairs.jsonl:2: invalid JSON .*delete the file"):
        run_pipeline(spec, tmp_path / "trial", validate_during_training=False)


def test_on_policy_rejections_need_one_worker() -> None:
    with pytest.raises(ValidationError, match=r"dpo.rejected: on_policy.*resources.workers: 1"):
        SweepSpec.model_validate({"dpo": {"rejected": "on_policy"}, "resources": {"workers": 2}})
    SweepSpec.model_validate({"dpo": {"rejected": "on_policy", "enabled": False}, "resources": {"workers": 2}})
    with pytest.raises(ValidationError, match="rejected"):
        SweepSpec.model_validate({"dpo": {"rejected": "offline"}})
