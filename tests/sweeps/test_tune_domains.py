"""Search-space conversion and searcher/scheduler construction (no Ray cluster needed)."""

from __future__ import annotations

import optuna
import pytest

from toolsweep.config.schema import SearchConfig
from toolsweep.errors import UserError
from toolsweep.search_spaces import Choice, Grid, LogUniform, RandInt, Uniform
from toolsweep.sweeps.searchers import build_scheduler, build_searcher, max_reports, tpe_startup_trials
from toolsweep.sweeps.tune_domains import OptunaDefineByRun, condition_of, to_tune_domain, to_tune_space


def test_randint_includes_its_upper_bound() -> None:
    domain = to_tune_domain(RandInt(2, 3))
    assert {domain.sample() for _ in range(200)} == {2, 3}


def test_seeded_sampling_stays_inside_the_domains() -> None:
    space = to_tune_space({"lora.r": Choice((4, 8)), "sft.learning_rate": LogUniform(1e-4, 1e-2), "w": Uniform(0.5, 2.0)}, "random")
    for _ in range(100):
        assert space["lora.r"].sample() in (4, 8)
        assert 1e-4 <= space["sft.learning_rate"].sample() <= 1e-2
        assert 0.5 <= space["w"].sample() <= 2.0


def test_grid_turns_choices_into_axes_and_rejects_ranges() -> None:
    space = to_tune_space({"lora.r": Choice((4, 8)), "dpo.beta": Grid((0.1, 0.2))}, "grid")
    assert space["lora.r"] == {"grid_search": [4, 8]} and space["dpo.beta"] == {"grid_search": [0.1, 0.2]}
    with pytest.raises(UserError, match="sft.learning_rate"):
        to_tune_space({"sft.learning_rate": LogUniform(1e-4, 1e-2)}, "grid")


def test_optuna_rejects_grid_expressions_by_field() -> None:
    with pytest.raises(UserError, match=r"optuna cannot run grid expressions at \['dpo.beta'\]"):
        build_searcher(SearchConfig(algorithm="optuna"), {"dpo.beta": Grid((0.1, 0.2))})


def test_dpo_parameters_are_conditional_on_dpo_being_searched_on() -> None:
    space = {"dpo.enabled": Choice((True, False)), "dpo.beta": LogUniform(0.01, 1.0), "lora.r": Choice((4, 8))}
    assert condition_of("dpo.beta", space) == "dpo.enabled"
    assert condition_of("lora.r", space) is None
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    define = OptunaDefineByRun(space)
    seen = []
    for _ in range(20):
        trial = study.ask()
        define(trial)
        seen.append(trial.params)
    assert any(not p["dpo.enabled"] for p in seen) and any(p["dpo.enabled"] for p in seen)
    for params in seen:
        assert ("dpo.beta" in params) == params["dpo.enabled"]
    random_space = to_tune_space(space, "random")
    assert callable(getattr(random_space["dpo.beta"], "func", None))


@pytest.mark.parametrize("algorithm", ["random", "grid", "optuna", "hyperopt"])
def test_every_searcher_builds(algorithm: str) -> None:
    searcher, space = build_searcher(SearchConfig(algorithm=algorithm), {"lora.r": Choice((4, 8))})
    assert searcher is not None
    assert ("lora.r" in space) == (algorithm != "optuna")  # optuna samples define-by-run


def test_tpe_spends_at_most_half_of_a_small_sweep_at_random() -> None:
    assert [tpe_startup_trials(n) for n in (1, 2, 4, 5, 6, 8, 40)] == [1, 1, 2, 2, 3, 4, 4]
    searcher, _ = build_searcher(SearchConfig(algorithm="optuna", num_samples=4), {"lora.r": Choice((4, 8))})
    assert searcher._sampler._n_startup_trials == 2  # what Optuna's TPE is actually given


@pytest.mark.parametrize("scheduler", ["fifo", "asha"])
def test_every_scheduler_builds(scheduler: str) -> None:
    assert build_scheduler(SearchConfig(scheduler=scheduler), max_t=6) is not None


def test_asha_horizon_counts_validation_reports() -> None:
    assert max_reports(120, 40, 60, 30) == 3 + 2 + 1


def test_expected_trials_counts_grid_points_times_samples(tmp_path) -> None:
    from toolsweep.config import load_sweep
    from toolsweep.sweeps.progress import expected_trials

    path = tmp_path / "s.yaml"
    path.write_text("lora:\n  r: {choice: [4, 8]}\ndpo:\n  beta: {grid: [0.1, 0.2, 0.3]}\nsearch:\n  algorithm: random\n  num_samples: 2\n")
    assert expected_trials(load_sweep(path)) == 6
    path.write_text("lora:\n  r: {choice: [4, 8]}\ndpo:\n  beta: {grid: [0.1, 0.2, 0.3]}\nsearch:\n  algorithm: grid\n  num_samples: 1\n")
    assert expected_trials(load_sweep(path)) == 6 * 1


def _random_search_suggestions(seed: int, samples: int = 8) -> list[dict]:
    """The configurations Ray's BasicVariantGenerator hands out for a conditional space, as ``toolsweep run``
    builds it (``build_searcher``), asked for directly: no trial runs."""
    from ray.tune.experiment import Experiment

    space = {"dpo.enabled": Choice((True, False)), "dpo.beta": LogUniform(0.01, 1.0), "lora.r": Choice((4, 8))}
    generator, param_space = build_searcher(SearchConfig(algorithm="random", num_samples=samples, seed=seed), space)
    generator.add_configurations([Experiment("seeded", run=lambda config: None, config=param_space, num_samples=samples)])
    return [generator.next_trial().config for _ in range(samples)]


def test_conditional_draws_follow_the_search_seed() -> None:
    """Ray hands no random state to ``sample_from`` functions, so a conditional parameter drawn there must bring
    its own seeded generator; with the global one, the same seed gave other betas on every run."""
    first, again, other = _random_search_suggestions(3), _random_search_suggestions(3), _random_search_suggestions(4)
    assert first == again
    assert any(config["dpo.enabled"] for config in first) and any(not config["dpo.enabled"] for config in first)
    assert all((config["dpo.beta"] is not None) == config["dpo.enabled"] for config in first)
    assert all(0.01 <= config["dpo.beta"] <= 1.0 for config in first if config["dpo.enabled"])
    betas = [config["dpo.beta"] for config in first if config["dpo.enabled"]]
    assert len(set(betas)) == len(betas)  # drawn per trial, not one value for every trial
    assert [c["dpo.beta"] for c in other if c["dpo.enabled"]] != betas
