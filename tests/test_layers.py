"""Only sweeps/ and cluster/ may import Ray: the trial is a plain function, and the library below it must stay
usable (and importable fast) without a Ray cluster. Checked in a fresh interpreter, importing every module."""

from __future__ import annotations

import subprocess
import sys

RAY_FREE = ("config", "data", "models", "evaluation", "trainers", "analysis", "search_spaces")

_SCRIPT = f"""
import importlib, pkgutil, sys
for package in {RAY_FREE!r}:
    root = importlib.import_module("toolsweep." + package)
    for module in pkgutil.iter_modules(root.__path__):
        importlib.import_module(f"toolsweep.{{package}}.{{module.name}}")
print(sorted(name for name in sys.modules if name == "ray" or name.startswith("ray.")))
"""


def test_the_library_below_sweeps_and_cluster_imports_no_ray() -> None:
    done = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_the_sft_cache_key_covers_what_changes_the_weights_and_nothing_else() -> None:
    """Two trials share an SFT stage exactly when their keys match: a field that changes the SFT weights must
    change the key (or trials would load the wrong model), one that does not must not (or SFT runs twice)."""
    from toolsweep.config.schema import SweepSpec
    from toolsweep.trainers.stage_cache import sft_key

    base = SweepSpec()

    def key(**sections: dict) -> str:
        data = base.model_dump()
        for section, values in sections.items():
            data[section] = {**data[section], **values}
        return sft_key(SweepSpec.model_validate(data))

    changes = [{"sft": {"learning_rate": 5e-3}}, {"sft": {"max_steps": 7}}, {"sft": {"batch_size": 2}},
               {"sft": {"max_length": 256}}, {"lora": {"r": 4}}, {"data": {"train_examples": 10}},
               {"resources": {"precision": "fp32"}}, {"model": {"chat_template": "hermes"}}]
    for change in changes:
        assert key(**change) != sft_key(base), change
    assert sft_key(base.model_copy(update={"seed": 1})) != sft_key(base)
    same = [{"dpo": {"beta": 0.5}}, {"dpo": {"learning_rate": 1e-5}}, {"sft": {"eval_every": 3}},
            {"eval": {"max_new_tokens": 8}}, {"search": {"num_samples": 3}}, {"data": {"preference_pairs": 3}},
            {"data": {"test_examples": 7}}]
    for change in same:
        assert key(**change) == sft_key(base), change
