"""The whole trial function on a tiny random model: data → SFT → DPO → evaluation, with reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from toolsweep.config.schema import SweepSpec
from toolsweep.errors import TrialFailure, UserError
from toolsweep.trainers.pipeline import run_pipeline


def _spec(model_dir: Path, **sections: dict) -> SweepSpec:
    base = {
        "name": "tiny",
        "model": {"name": str(model_dir)},
        "data": {"train_examples": 24, "preference_pairs": 16, "validation_examples": 8, "test_examples": 8},
        "lora": {"r": 4},
        "sft": {"max_steps": 4, "batch_size": 4, "eval_every": 2, "learning_rate": 5e-3},
        "dpo": {"max_steps": 4, "batch_size": 4, "eval_every": 2, "learning_rate": 5e-3},
        "eval": {"max_new_tokens": 8, "validation_subset": 4},
    }
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value}
    return SweepSpec.model_validate(base)


def test_pipeline_runs_sft_then_dpo_and_reports(tiny_model_dir: Path, tmp_path: Path) -> None:
    reports: list[dict] = []
    result = run_pipeline(_spec(tiny_model_dir), tmp_path / "trial", reports.append, evaluate_base=True, evaluate_test=True)
    assert set(result.stages) == {"sft", "dpo"}
    assert result.stages["sft"].steps == 4 and result.stages["dpo"].steps == 4
    metrics = result.metrics
    for key in ("base/exact_match", "sft/exact_match", "val/exact_match", "test/exact_match",
                "test/unseen_phrasing/exact_match"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert (tmp_path / "trial" / "test_unseen_phrasing_failures.jsonl").is_file()
    # the bundled test asks all four When2Call decisions: call, refuse, ask, and (per row) which
    assert "test/exact_match/clarify" in metrics
    assert {"test/errors/should_have_asked", "test/errors/asked_needlessly"} <= set(metrics)
    failures = [json.loads(line) for line in (tmp_path / "trial" / "test_failures.jsonl").read_text().splitlines()]
    assert all(f["error_kind"] == "should_have_asked" for f in failures if f["category"] == "clarify")
    assert 0 <= metrics["data/sft_rows_over_max_length"] <= 24 and metrics["data/sft_longest_tokens"] > 0
    # validation during training feeds the scheduler: at step 2 of each stage and at each stage's end
    assert sum("val/exact_match" in r and "sft/step" in r for r in reports) >= 2
    assert any("dpo/rewards/accuracies" in r for r in reports)
    saved = json.loads((tmp_path / "trial" / "result.json").read_text())
    assert saved["metrics"]["val/exact_match"] == metrics["val/exact_match"]
    assert (tmp_path / "trial" / "config.json").is_file()

    # A second call finds both stages done and only re-evaluates.
    again = run_pipeline(_spec(tiny_model_dir), tmp_path / "trial")
    assert again.metrics["val/exact_match"] == metrics["val/exact_match"]


@pytest.mark.parametrize(("sft", "dpo"), [(True, False), (False, True), (False, False)])
def test_each_stage_can_be_switched_off(tiny_model_dir: Path, tmp_path: Path, sft: bool, dpo: bool) -> None:
    spec = _spec(tiny_model_dir, sft={"enabled": sft}, dpo={"enabled": dpo})
    result = run_pipeline(spec, tmp_path / "trial", validate_during_training=False)
    assert set(result.stages) == {name for name, on in (("sft", sft), ("dpo", dpo)) if on}
    assert "val/exact_match" in result.metrics


def test_bad_target_module_fails_before_training(tiny_model_dir: Path, tmp_path: Path) -> None:
    spec = _spec(tiny_model_dir, lora={"target_modules": ["query_key_value"]})
    with pytest.raises(UserError, match="query_key_value"):
        run_pipeline(spec, tmp_path / "trial")
    assert not (tmp_path / "trial" / "sft").exists()


def test_a_crash_is_recorded_as_the_trials_failure(tiny_model_dir: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The logged loss becomes NaN from step 3 on, injected where the Trainer logs it (TRL's trainers log through
    # Trainer.log): whether a huge learning rate overflows depends on the CPU, this does not. The guard under
    # test, MetricsCallback with the real is_finite, sees exactly what a diverging run would show it.
    from transformers import Trainer

    log = Trainer.log

    def diverging_log(self: Trainer, logs: dict[str, float], *args: object, **kwargs: object) -> None:
        if "loss" in logs and self.state.global_step >= 3:
            logs = {**logs, "loss": float("nan")}
        log(self, logs, *args, **kwargs)

    monkeypatch.setattr(Trainer, "log", diverging_log)
    spec = _spec(tiny_model_dir, sft={"max_steps": 6})
    with pytest.raises(TrialFailure) as info:
        run_pipeline(spec, tmp_path / "trial", validate_during_training=False)
    failure = json.loads((tmp_path / "trial" / "failure.json").read_text())
    assert failure["kind"] == info.value.kind == "nan"
    assert "sft: loss became nan at step 3; lower the learning rate" in failure["message"]
    assert not (tmp_path / "trial" / "dpo").exists()  # the stage stopped there; DPO never started


def test_a_max_length_that_cuts_rows_is_reported(tiny_model_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from transformers import AutoTokenizer

    from toolsweep.data.prepare import prepare_data
    from toolsweep.trainers.datasets import length_report

    spec = _spec(tiny_model_dir, dpo={"enabled": False})
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    longest = length_report("sft", tokenizer, prepare_data(spec).train, 10_000).longest
    limit = longest - 1  # cuts the longest row (and any as long), keeps the others
    spec = _spec(tiny_model_dir, sft={"max_length": limit}, dpo={"enabled": False}, eval={"max_new_tokens": 8})
    result = run_pipeline(spec, tmp_path / "trial", validate_during_training=False)
    cut = result.metrics["data/sft_rows_over_max_length"]
    assert 0 < cut < 24 and result.metrics["data/sft_longest_tokens"] == longest
    err = capsys.readouterr().err
    assert f"sft.max_length={limit} cuts {cut:.0f} of 24 rows (longest {longest} tokens)" in err
    # Every tool call is longer than 8 tokens: those reference answers could never be matched.
    answers_cut = result.metrics["data/eval_rows_over_max_new_tokens"]
    assert answers_cut > 0 and result.metrics["data/eval_longest_tokens"] > 8
    assert f"eval.max_new_tokens=8 cuts {answers_cut:.0f} of " in err


def test_one_generation_limit_default_for_sweeps_and_eval() -> None:
    """A sweep and `toolsweep eval` score the same model the same way unless told otherwise."""
    import inspect

    from toolsweep.cli import build_parser
    from toolsweep.config.schema import EvalConfig
    from toolsweep.evaluation.command import run_eval
    from toolsweep.evaluation.generation import DEFAULT_MAX_NEW_TOKENS, generate_completions

    args = build_parser().parse_args(["eval", "--model", "m"])
    defaults = {
        "sweep file": EvalConfig().max_new_tokens,
        "toolsweep eval": args.max_new_tokens,
        "run_eval": inspect.signature(run_eval).parameters["max_new_tokens"].default,
        "generate_completions": inspect.signature(generate_completions).parameters["max_new_tokens"].default,
    }
    assert set(defaults.values()) == {DEFAULT_MAX_NEW_TOKENS}, defaults


def test_when2call_pairs_train_dpo_and_its_multiple_choice_score_is_reported(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The seed recipe's data: DPO on When2Call preference rows, its MCQ score at every validation point."""
    fixtures = Path(__file__).parents[1] / "data" / "fixtures" / "when2call"
    spec = _spec(tiny_model_dir, data={"preferences": {"path": str(fixtures / "when2call_train_pref.jsonl")},
                                       "preference_pairs": 4},
                 eval={"when2call": str(fixtures / "when2call_test_mcq.jsonl")})
    from toolsweep.data.prepare import prepare_data

    data = prepare_data(spec)
    assert len(data.pairs) == 4 and all(p["id"].startswith("when2call") or p["prompt"] for p in data.pairs)
    assert len(data.when2call) == 6
    reports: list[dict] = []
    result = run_pipeline(spec, tmp_path / "trial", reports.append)
    m = result.metrics
    assert m["val/when2call/n_examples"] == 6 and 0.0 <= m["val/when2call/macro_f1"] <= 1.0
    assert sum("val/when2call/accuracy" in r for r in reports) >= 2  # during training too, for the scheduler
    SweepSpec.model_validate({**spec.model_dump(), "search": {"metric": "val/when2call/macro_f1"}})


def test_dpo_after_a_cached_sft_stage_matches_dpo_after_sft_in_memory_in_bf16(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Shared SFT stages promise the same result as training SFT in the trial itself. The fp32 checkpoint is
    cast to bf16 for training; casting it in memory also rounded the rotary ``inv_freq`` buffer, which loading
    the stage back in bf16 keeps in fp32, so DPO drifted (~1e-3 in the adapter) only after a cached stage."""
    from safetensors.torch import load_file

    spec = _spec(tiny_model_dir, resources={"precision": "bf16"}, dpo={"max_steps": 3, "eval_every": 3})
    in_memory = run_pipeline(spec, tmp_path / "a", validate_during_training=False)
    cached = run_pipeline(spec, tmp_path / "b", sft_dir=tmp_path / "a" / "sft", validate_during_training=False)
    assert not (tmp_path / "b" / "sft").exists()  # the second trial trained no SFT of its own
    first, second = (load_file(str(Path(r.model_dir) / "adapter_model.safetensors")) for r in (in_memory, cached))
    assert first.keys() == second.keys()
    assert all(first[key].dtype == torch.float32 and torch.equal(first[key], second[key]) for key in first)
