"""The exported model's README.md: where it came from, how it was trained and chosen, and how well it calls tools.

A model card is what a person reads before using the model, so everything the sweep knows goes here in
plain Markdown: base model, data mix, hyperparameters, the variants table, per-category accuracy, the pick
rule, and the command that reproduces the reported test accuracy.
"""

from __future__ import annotations

import json
from typing import Any

from toolsweep.config.schema import LoraConfig

__all__ = ["model_card"]


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _markdown_table(rows: list[dict[str, Any]], percent: bool = True) -> str:
    if not rows:
        return "_not computed_\n"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = [str(row[c]) if isinstance(row[c], str) or not percent else _pct(row[c]) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _reproduce(command: str | None) -> str:
    if command is None:
        return ("The headline test set is a holdout of the training files, which exists only inside the sweep; "
                "`toolsweep export` re-scored it above.\n")
    return f"Reproduce the score:\n\n```bash\n{command}\n```\n"


def _test_set_rows(spec: dict[str, Any], metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per test set: its name, what it is, its size and the winner's exact match on it."""
    from toolsweep.config.schema import SweepSpec
    from toolsweep.data.eval_sets import describe_eval_set
    from toolsweep.data.prepare import evaluation_configs

    data = SweepSpec.model_validate(spec, strict=False).data
    rows = []
    for (name, config), prefix in zip(evaluation_configs(data)[1].items(), data.test_prefixes().values(), strict=True):
        n = metrics.get(f"{prefix}/n_examples")
        rows.append({"test set": name, "what it is": describe_eval_set(config), "examples": "–" if n is None else f"{n:.0f}",
                     "exact match": metrics.get(f"{prefix}/exact_match")})
    return rows


_PACKAGING = {
    "adapter": "the LoRA adapter only; load it on the base model recorded in `adapter_config.json`",
    "merged": "the LoRA adapter merged into the base weights (safetensors)",
    "full": "the fully fine-tuned weights (safetensors)",
}
"""What an export directory holds, by ``export._write_weights``'s format: a fully fine-tuned winner has no
adapter, and its card must not say it merged one."""


def model_card(provenance: dict[str, Any], variant_rows: list[dict[str, Any]], eval_command: str | None) -> str:
    """The README.md text for an export described by ``provenance`` (see ``export._provenance``)."""
    spec = provenance["resolved_config"]
    metrics = provenance["metrics"]
    base = spec["model"]["name"]
    mix = {name: source.get("weight", 1.0) for name, source in spec["data"]["sources"].items()}
    total = sum(mix.values()) or 1.0
    categories = sorted(k.split("/")[-1] for k in metrics if k.startswith("test/exact_match/"))
    per_category = [{"category": c, "exact match": metrics[f"test/exact_match/{c}"]} for c in categories]
    hub_base = base if "/" in base and not base.startswith(("/", ".", "~", "builtin:")) else None
    lora = spec["lora"]
    tags = "tool-calling, function-calling, toolsweep, dpo" + (", lora" if lora["enabled"] else "")
    front = ["---", "library_name: transformers", "pipeline_tag: text-generation", f"tags: [{tags}]"]
    if hub_base:
        front.append(f"base_model: {hub_base}")
    front.append("---")
    stages = []
    for name in ("sft", "dpo"):
        stage = spec[name]
        if stage["enabled"]:
            extra = ""
            if name == "dpo":
                sft_term = f" + {stage['sft_weight']:g} x SFT" if stage.get("sft_weight") else ""
                extra = f", beta {stage['beta']}, loss {stage['loss_type']}{sft_term}"
            stages.append(f"- **{name.upper()}**: learning rate {stage['learning_rate']:g}, {stage['max_steps']} steps, "
                          f"batch {stage['batch_size']} x {stage['gradient_accumulation_steps']}, {stage['lr_scheduler']} schedule{extra}")
    searched = provenance.get("searched_values") or {}
    searched_lines = "\n".join(f"- `{k}` = `{json.dumps(v)}`" for k, v in sorted(searched.items())) or "- nothing was searched"
    packaging = _PACKAGING[provenance["format"]]
    method = "with LoRA" if lora["enabled"] else "fine-tuning every weight"
    return f"""{chr(10).join(front)}

# {provenance['sweep']} — best trial {provenance['trial_id']}

A tool-calling fine-tune of **{base}**, picked by a toolsweep hyperparameter sweep
(SFT then DPO, {method}). This directory holds {packaging}, the tokenizer with its chat template, and the
generation config. Tool calls are emitted as Hermes-style `<tool_call>{{"name": ..., "arguments": {{...}}}}</tool_call>` blocks.

## How it was chosen

Pick rule: **{provenance['rule']}**.
{provenance['n_trials']} trials were run; this one scored {provenance['metric']} = {metrics.get(provenance['metric'], float('nan')):.4g}.

Searched values of this trial:
{searched_lines}

## Test accuracy

Exact match on each test set of the sweep; the first is the headline, re-measured on the exported files:
{_pct(provenance['verification']['reproduced'])}.

{_markdown_table(_test_set_rows(spec, metrics))}
Per category of the headline set:

{_markdown_table(per_category)}
### Variants of this configuration (test split)

{_markdown_table(variant_rows)}
{_reproduce(eval_command)}
## Training

- Base model: `{base}`; seed {spec['seed']}
- Data mix (weights, normalised): {", ".join(f"{name} {w / total:.0%}" for name, w in mix.items())};
  {spec['data']['train_examples']} SFT examples, {spec['data']['preference_pairs']} DPO preference pairs
- LoRA: {"r " + str(lora['r']) + ", alpha " + str(LoraConfig.model_validate(lora).effective_alpha) + ", dropout " + str(lora['dropout']) + ", targets " + json.dumps(lora['target_modules']) if lora['enabled'] else "disabled (full fine-tuning)"}
{chr(10).join(stages)}

The full resolved configuration, package versions and all metrics are in `toolsweep_export.json`;
`manifest.json` lists the sha256 of every file (check it with `toolsweep.analysis.manifest.verify_manifest`).
"""
