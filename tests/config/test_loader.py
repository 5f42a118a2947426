from __future__ import annotations

from pathlib import Path

import pytest

from toolsweep.config import SweepFileError, SweepSpec, load_sweep
from toolsweep.config.vocabulary import metric_direction
from toolsweep.search_spaces import Choice, LogUniform
from toolsweep.sweeps.searchers import tpe_startup_trials

QUICKSTART = Path(__file__).parents[2] / "configs" / "quickstart.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


def test_defaults_make_a_valid_spec() -> None:
    spec = SweepSpec()
    assert spec.model.name == "builtin:tiny-tool-lm"
    assert spec.sft.enabled and spec.dpo.enabled and spec.lora.enabled
    assert set(spec.data.sources) == {"simple", "multiple", "parallel", "irrelevance", "clarify"}


def test_expressions_are_lifted_into_the_space(tmp_path: Path) -> None:
    sweep = load_sweep(_write(tmp_path, "lora:\n  r: {choice: [4, 8]}\nsft:\n  learning_rate: {loguniform: [1.0e-4, 1.0e-2]}\n"))
    assert sweep.space == {"lora.r": Choice((4, 8)), "sft.learning_rate": LogUniform(1e-4, 1e-2)}
    assert sweep.spec.lora.r == 4
    assert sweep.spec.sft.learning_rate == pytest.approx(1e-3)


def test_resolve_applies_and_revalidates_sampled_values(tmp_path: Path) -> None:
    sweep = load_sweep(_write(tmp_path, "lora:\n  r: {choice: [4, 8]}\n"))
    assert sweep.resolve({"lora.r": 8}).lora.r == 8
    with pytest.raises(SweepFileError, match="lora.r"):
        sweep.resolve({"lora.r": -1})
    with pytest.raises(KeyError, match="not searched"):
        sweep.resolve({"dpo.beta": 0.3})


def test_overrides_set_values_and_expressions(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: base\n")
    sweep = load_sweep(path, ["dpo.beta=0.3", "lora.r={choice: [2, 4]}", "data.sources.simple.weight=2"])
    assert sweep.spec.dpo.beta == 0.3
    assert sweep.space["lora.r"] == Choice((2, 4))
    assert sweep.spec.data.sources["simple"].weight == 2.0


def test_exponent_floats_without_a_dot_are_numbers(tmp_path: Path) -> None:
    # YAML 1.1 (PyYAML) reads 2e-3 as a string; users and YAML 1.2 mean a float, in the file and in --set.
    path = _write(tmp_path, "sft:\n  learning_rate: {loguniform: [3e-4, 3e-3]}\ndpo:\n  learning_rate: 5E-5\n")
    sweep = load_sweep(path)
    assert sweep.space["sft.learning_rate"] == LogUniform(3e-4, 3e-3)
    assert sweep.spec.dpo.learning_rate == 5e-5
    assert load_sweep(path, ["sft.learning_rate=2e-3"]).spec.sft.learning_rate == 2e-3
    assert load_sweep(path, ["name='1e3'"]).spec.name == "1e3"  # quoted, it stays text


@pytest.mark.parametrize(
    ("override", "field"),
    [("dpo.betta=0.3", "dpo.betta"), ("dpo.beta=-1", "dpo.beta"), ("lora.r=abc", "lora.r")],
)
def test_bad_overrides_name_the_field(tmp_path: Path, override: str, field: str) -> None:
    with pytest.raises(SweepFileError) as info:
        load_sweep(_write(tmp_path, "name: base\n"), [override])
    assert any(problem.field == field for problem in info.value.problems)


def test_override_without_equals_is_explained(tmp_path: Path) -> None:
    with pytest.raises(SweepFileError, match="KEY=VALUE"):
        load_sweep(_write(tmp_path, "name: base\n"), ["dpo.beta"])


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, "lora:\n  r: -1\ndpo:\n  beta: 0\nsearch:\n  num_samples: 0\n")
    with pytest.raises(SweepFileError) as info:
        load_sweep(path)
    assert {problem.field for problem in info.value.problems} == {"lora.r", "dpo.beta", "search.num_samples"}
    assert [problem.line for problem in info.value.problems] == [2, 4, 6]


def test_bad_expressions_and_bad_keys_are_reported_together(tmp_path: Path) -> None:
    path = _write(tmp_path, "sft:\n  max_stepz: 4\nlora:\n  r: {choice: []}\n")
    with pytest.raises(SweepFileError) as info:
        load_sweep(path)
    fields = [problem.field for problem in info.value.problems]
    assert fields.count("lora.r") == 1 and "sft.max_stepz" in fields


def test_missing_sweep_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(SweepFileError, match="cannot read"):
        load_sweep(tmp_path / "absent.yaml")


def test_existing_model_directory_and_hub_ids_are_accepted(tmp_path: Path) -> None:
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    assert load_sweep(_write(tmp_path, f"model:\n  name: {model_dir}\n")).spec.model.name == str(model_dir)
    # A hub id is checked when it is loaded, not at validation time (no network here).
    assert load_sweep(_write(tmp_path, "model:\n  name: Qwen/Qwen2.5-0.5B-Instruct\n")).spec.model.name


def test_quickstart_searches_lr_beta_and_a_mix_weight_with_full_fine_tuning() -> None:
    sweep = load_sweep(QUICKSTART)
    assert {"sft.learning_rate", "dpo.beta", "data.sources.clarify.weight"} <= set(sweep.space)
    # The tiny model learns more from full fine-tuning than from LoRA (configs/quickstart.yaml says how much)
    assert not sweep.spec.lora.enabled and "lora.r" not in sweep.space
    # half of a small sweep is random at most, so TPE chooses trials from the first results
    assert sweep.spec.search.num_samples - tpe_startup_trials(sweep.spec.search.num_samples) >= 2


def test_search_mode_follows_the_metric_and_a_contrary_one_is_an_error(tmp_path: Path) -> None:
    """evaluation.metrics promises that the direction comes from the metric: maximising an error count or
    a cost would crown the worst trial, so leaving mode out takes the metric's direction, and a contrary one
    fails."""
    cases = {"val/exact_match": "max", "cost/wall_seconds": "min", "val/errors/wrong_tool": "min",
             "sft/loss": "min", "test/unseen_phrasing/exact_match": "max"}
    for metric, mode in cases.items():
        assert SweepSpec.model_validate({"search": {"metric": metric}}).search.mode == mode, metric
    assert metric_direction("val/when2call/tool_hallucination_rate") == "min"
    assert metric_direction("val/n_examples") is None
    assert load_sweep(_write(tmp_path, "search: {metric: cost/wall_seconds}\n")).spec.search.mode == "min"
    with pytest.raises(SweepFileError, match=r"search.mode 'max' would pick the worst trial.*use mode: min"):
        load_sweep(_write(tmp_path, "search: {metric: val/errors/malformed, mode: max}\n"))
