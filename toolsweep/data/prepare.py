"""A sweep's data, built from its typed ``data`` section: the SFT mix, DPO pairs, validation and test.

The training mix follows the sweep's source weights (searchable), but validation and test do not: they
are fixed, equal-weight samples of the held-out splits of the bundled set, so trials with different mixes
are scored on the same examples and their accuracies are comparable. Validation and test share no argument
value with training (every example is a new tool × values × phrasing combination) but use the phrasing
templates training uses; the ``unseen_phrasing`` test slice uses templates training never saw, so the two
test scores separate "copies new values" from "understands new wordings".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from toolsweep.config.schema import BUILTIN_CATEGORIES, DataConfig, SweepSpec
from toolsweep.data.catalogue import target_tools
from toolsweep.data.generator import generate_examples
from toolsweep.data.loaders import LoadReport, load_hub_dataset, load_jsonl
from toolsweep.data.mix import Source, builtin_sources, sample_mix
from toolsweep.data.preferences import make_preference_pairs

__all__ = ["EVAL_CATEGORIES", "UNSEEN_PHRASING", "PreparedData", "evaluation_split", "prepare_data", "test_slices"]

EVAL_CATEGORIES = dict.fromkeys(BUILTIN_CATEGORIES, 1.0)
UNSEEN_PHRASING = "unseen_phrasing"
"""The test slice whose phrasing templates training never saw (metrics ``test/unseen_phrasing/...``)."""
# Held-out splits do not depend on the sweep's seed: every sweep and trial is scored on the same examples.
EVAL_SEED = 1234


@dataclass(frozen=True)
class PreparedData:
    """The four example lists a trial needs, as contract records (docs/data_contract.md)."""

    train: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    validation: list[dict[str, Any]]
    test: list[dict[str, Any]]
    test_slices: dict[str, list[dict[str, Any]]]
    """Further test sets reported beside ``test`` under ``test/<name>/``: ``unseen_phrasing``."""


def evaluation_split(split: str, n: int, phrasing: str = "seen") -> list[dict[str, Any]]:
    """``n`` examples of the bundled ``validation`` or ``test`` split, equal weight per category.

    ``seen`` (the headline): the phrasing templates training uses, with values no training example has;
    ``unseen``: templates held out of training too (the ``unseen_phrasing`` slice)."""
    return generate_examples(target_tools(), split, n, EVAL_CATEGORIES, EVAL_SEED, phrasing)


def _user_source(name: str, config: Any, strict: bool) -> list[dict[str, Any]]:
    report: LoadReport
    if config.path is not None:
        report = load_jsonl(config.path, config.format, strict=strict)
    else:
        report = load_hub_dataset(config.hub, split=config.split, fmt=config.format, strict=strict)
    if report.errors:
        print(f"data.sources.{name}: {report.summary()}", file=sys.stderr)
    if not report.examples:
        raise ValueError(f"data.sources.{name}: no usable rows in {report.path}")
    return report.examples


def _sources(data: DataConfig, seed: int) -> tuple[dict[str, Source], dict[str, float]]:
    builtins = builtin_sources("train", seed)
    sources: dict[str, Source] = {}
    weights: dict[str, float] = {}
    for name, config in data.sources.items():
        if config.weight == 0:
            continue
        if config.builtin is not None:
            sources[name] = builtins[config.builtin]
        else:
            sources[name] = _user_source(name, config, data.strict)
        weights[name] = config.weight
    return sources, weights


def prepare_data(spec: SweepSpec) -> PreparedData:
    """Sample the training mix and build DPO pairs from it, reproducibly from ``spec.seed``."""
    data = spec.data
    sources, weights = _sources(data, spec.seed)
    train = sample_mix(sources, weights, data.train_examples, spec.seed)
    # Pairs come from a second draw of the same mix, so DPO sees the mix's proportions too.
    pair_examples = sample_mix(sources, weights, data.preference_pairs, spec.seed + 1)
    pairs = make_preference_pairs(pair_examples, dict(data.rejection_kinds), spec.seed, tools_pool=target_tools())
    return PreparedData(
        train=train,
        pairs=pairs,
        validation=evaluation_split("validation", data.validation_examples),
        test=evaluation_split("test", data.test_examples),
        test_slices=test_slices(data.test_examples),
    )


def test_slices(n: int) -> dict[str, list[dict[str, Any]]]:
    """The test slices reported beside the headline test set, ``n`` examples each."""
    return {UNSEEN_PHRASING: evaluation_split("test", n, "unseen")}
