"""A sweep's data, built from its typed ``data`` section: the SFT mix, DPO pairs, validation and test sets.

The training mix follows the sweep's source weights (searchable), but validation and test do not: they are
fixed sets, so trials with different mixes are scored on the same examples and their accuracies are
comparable. By default they are equal-weight samples of the bundled held-out splits: they share no argument
value with training (every example is a new tool × values × phrasing combination) but use the phrasing
templates training uses; the ``unseen_phrasing`` test set uses templates training never saw, so the two test
scores separate "copies new values" from "understands new wordings". A sweep file may name its own sets
instead (``data.validation``, ``data.test``; see ``eval_sets.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolsweep.config.schema import TOOL_CALL_CATEGORIES, DataConfig, EvalSet, SweepSpec
from toolsweep.config.vocabulary import UNSEEN_PHRASING
from toolsweep.data.catalogue import target_tools
from toolsweep.data.eval_sets import holdout_split, load_eval_set, load_user_rows
from toolsweep.data.generator import generate_examples
from toolsweep.data.loaders import load_preference_jsonl, load_when2call_mcq
from toolsweep.data.mix import Source, builtin_sources, sample_mix
from toolsweep.data.preferences import make_preference_pairs
from toolsweep.data.reports import DataFileError, usable_rows

__all__ = ["EVAL_CATEGORIES", "UNSEEN_PHRASING", "PreparedData", "evaluation_configs", "evaluation_split", "named_test_sets", "prepare_data"]

EVAL_CATEGORIES = dict.fromkeys(TOOL_CALL_CATEGORIES, 1.0)
"""The test slice whose phrasing templates training never saw (metrics ``test/unseen_phrasing/...``)."""
# Held-out splits do not depend on the sweep's seed: every sweep and trial is scored on the same examples.
EVAL_SEED = 1234


@dataclass(frozen=True)
class PreparedData:
    """The example lists a trial needs, as contract records (docs/data_contract.md) or BFCL tasks."""

    train: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    validation: list[Any]
    test: list[Any]
    """The first test set: the headline, reported as ``test/...``."""
    test_slices: dict[str, list[Any]]
    """Every further test set, reported beside ``test`` as ``test/<name>/...`` (default: ``unseen_phrasing``)."""
    when2call: list[dict[str, Any]] = field(default_factory=list)
    """When2Call multiple-choice items (``eval.when2call``), scored with validation as ``val/when2call/...``."""


def evaluation_split(split: str, n: int, phrasing: str = "seen") -> list[dict[str, Any]]:
    """``n`` examples of the bundled ``validation`` or ``test`` split, equal weight per category.

    ``seen`` (the headline): the phrasing templates training uses, with values no training example has;
    ``unseen``: templates held out of training too (the ``unseen_phrasing`` slice)."""
    return generate_examples(target_tools(), split, n, EVAL_CATEGORIES, EVAL_SEED, phrasing)


def _sources(data: DataConfig, seed: int, holdout: list[float]
             ) -> tuple[dict[str, Source], dict[str, float], list[list[dict[str, Any]]]]:
    """The training sources and weights; ``holdout`` fractions of every path/hub source are split off first
    and returned per fraction (they never reach the mix)."""
    builtins = builtin_sources("train", seed)
    sources: dict[str, Source] = {}
    weights: dict[str, float] = {}
    held: list[list[dict[str, Any]]] = [[] for _ in holdout]
    for name, config in data.sources.items():
        if config.weight == 0:
            continue
        if config.builtin is not None:
            sources[name] = builtins[config.builtin]
        else:
            rows = load_user_rows(f"data.sources.{name}", config, data.strict)
            if holdout:
                rows, shares = holdout_split(rows, holdout)
                for mine, share in zip(held, shares, strict=True):
                    mine.extend(share)
                if not rows:
                    raise DataFileError(f"data.sources.{name}: the holdout leaves no training rows; lower the fraction")
            sources[name] = rows
        weights[name] = config.weight
    return sources, weights, held


def evaluation_configs(data: DataConfig) -> tuple[EvalSet, dict[str, EvalSet]]:
    """The validation set and the named test sets a sweep is scored on (the defaults filled in)."""
    validation = data.validation or EvalSet(builtin="validation")
    tests = data.test or {"test": EvalSet(builtin="test"), UNSEEN_PHRASING: EvalSet(builtin=UNSEEN_PHRASING)}
    return validation, tests


def _evaluation_sets(data: DataConfig, held: list[list[dict[str, Any]]]) -> tuple[list[Any], dict[str, list[Any]]]:
    validation, tests = evaluation_configs(data)
    shares = iter(held)

    def rows(where: str, config: EvalSet, default_n: int) -> list[Any]:
        return load_eval_set(where, config, data, default_n, next(shares) if config.holdout is not None else None)

    val = rows("data.validation", validation, data.validation_examples)
    return val, {name: rows(f"data.test.{name}", config, data.test_examples) for name, config in tests.items()}


def _holdout_fractions(data: DataConfig) -> list[float]:
    validation, tests = evaluation_configs(data)
    return [config.holdout for config in (validation, *tests.values()) if config.holdout is not None]


def prepare_data(spec: SweepSpec) -> PreparedData:
    """Sample the training mix and build DPO pairs from it, reproducibly from ``spec.seed``."""
    data = spec.data
    sources, weights, held = _sources(data, spec.seed, _holdout_fractions(data))
    train = sample_mix(sources, weights, data.train_examples, spec.seed)
    # Pairs come from a second draw of the same mix, so DPO sees the mix's proportions too.
    if data.preferences is not None:
        pairs = _file_pairs(data, spec.seed)
    else:
        pair_examples = sample_mix(sources, weights, data.preference_pairs, spec.seed + 1)
        pairs = make_preference_pairs(pair_examples, dict(data.rejection_kinds), spec.seed, tools_pool=target_tools())
    validation, tests = _evaluation_sets(data, held)
    first, *others = tests
    return PreparedData(train=train, pairs=pairs, validation=validation, test=tests[first],
                        test_slices={name: tests[name] for name in others}, when2call=_when2call_items(spec))


def _file_pairs(data: DataConfig, seed: int) -> list[dict[str, Any]]:
    """``data.preference_pairs`` pairs drawn (seeded, without repeats while the file lasts) from the file."""
    assert data.preferences is not None
    report = load_preference_jsonl(data.preferences.path, data.preferences.format, strict=data.strict)
    pairs = usable_rows(report, "data.preferences")
    return sample_mix({"preferences": pairs}, {"preferences": 1.0}, data.preference_pairs, seed + 1)


def _when2call_items(spec: SweepSpec) -> list[dict[str, Any]]:
    if spec.eval.when2call is None:
        return []
    report = load_when2call_mcq(spec.eval.when2call, strict=spec.data.strict)
    return usable_rows(report, "eval.when2call")[: spec.eval.when2call_examples]


def named_test_sets(spec: SweepSpec) -> dict[str, list[Any]]:
    """The sweep's test sets by name, first the headline (what the variants table and export re-score)."""
    data = spec.data
    held: list[list[dict[str, Any]]] = []
    fractions = _holdout_fractions(data)
    if fractions:  # the holdout is a share of the user's training rows: split them exactly as a trial does
        held = _sources(data, spec.seed, fractions)[2]
    return _evaluation_sets(data, held)[1]
