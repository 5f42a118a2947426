"""Aggregate per-example results into typed metrics and a flat dict for Ray Tune / W&B.

Every metric has a direction (``higher_is_better``, as in lm-evaluation-harness), given by one rule,
:func:`toolsweep.config.vocabulary.metric_direction`: a sweep without ``search.mode`` takes its direction from
the metric, and ``validate`` rejects a mode that optimises the metric the wrong way. A metric whose
denominator is zero (e.g. irrelevance accuracy on a set with no irrelevance examples) is ``nan``
in the typed record and left out of :meth:`EvalMetrics.to_flat_dict`, because Ray Tune and W&B
treat a reported ``nan`` as a real value while a missing key is simply not plotted.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolsweep.config.vocabulary import ERROR_KINDS, METRIC_NAMES, is_metric_name, metric_direction
from toolsweep.config.vocabulary import HEADLINE_METRIC as HEADLINE
from toolsweep.evaluation.scoring import ExampleResult

__all__ = ["HEADLINE", "METRIC_NAMES", "EvalMetrics", "Metric", "aggregate", "failure_record",
           "is_metric_name", "test_set_keys", "write_failures"]


def test_set_keys(keys: Iterable[str]) -> list[str]:
    """The headline exact-match key of every test set found among metric ``keys``: ``test/exact_match`` (the
    first set) then ``test/<name>/exact_match`` for each further set, in order of appearance."""
    found = ["test/" + HEADLINE]
    for key in keys:
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "test" and parts[2] == HEADLINE and key not in found:
            found.append(key)
    return found


@dataclass(frozen=True)
class Metric:
    """A ratio with its support, so that small-sample numbers can be recognised as such."""

    name: str
    numerator: float
    denominator: float

    @property
    def value(self) -> float:
        return self.numerator / self.denominator if self.denominator else math.nan


@dataclass
class EvalMetrics:
    """All aggregate numbers of one evaluation; ``exact_match`` is the headline."""

    n_examples: int
    exact_match: Metric
    tool_selection: Metric
    arg_precision: Metric
    arg_recall: Metric
    well_formed: Metric
    irrelevance_accuracy: Metric
    per_category: dict[str, Metric] = field(default_factory=dict)
    error_counts: dict[str, int] = field(default_factory=dict)

    @property
    def arg_f1(self) -> float:
        p, r = self.arg_precision.value, self.arg_recall.value
        if math.isnan(p) or math.isnan(r) or p + r == 0:
            return math.nan if math.isnan(p) or math.isnan(r) else 0.0
        return 2 * p * r / (p + r)

    def metrics(self) -> list[Metric]:
        head = [self.exact_match, self.tool_selection, self.arg_precision, self.arg_recall,
                self.well_formed, self.irrelevance_accuracy]
        return head + list(self.per_category.values())

    def to_flat_dict(self) -> dict[str, float]:
        """``{"exact_match": .., "exact_match/simple": .., "errors/wrong_tool": ..}``; nan left out."""
        flat: dict[str, float] = {}
        for metric in self.metrics():
            if not math.isnan(metric.value):
                flat[metric.name] = metric.value
        if not math.isnan(self.arg_f1):
            flat["arg_f1"] = self.arg_f1
        for kind in ERROR_KINDS:
            flat[f"errors/{kind}"] = float(self.error_counts.get(kind, 0))
        flat["n_examples"] = float(self.n_examples)
        return flat

    def higher_is_better(self) -> dict[str, bool]:
        """Direction of every key of :meth:`to_flat_dict` (error counts: lower is better), from
        :func:`toolsweep.config.vocabulary.metric_direction`, the rule the sweep's ``search.mode`` follows."""
        errors = [f"errors/{kind}" for kind in ERROR_KINDS]
        keys = [m.name for m in self.metrics()] + ["arg_f1", *errors, "n_examples"]
        return {key: metric_direction(key) != "min" for key in keys}


def aggregate(results: Sequence[ExampleResult]) -> EvalMetrics:
    """Aggregate results; per-category exact match uses both the contract category and, when set,
    the finer BFCL category (``exact_match/simple`` and ``exact_match/simple_python``)."""
    n = len(results)
    irrelevant = [r for r in results if r.n_expected_calls == 0]
    tp = sum(r.arg_tp for r in results)
    fp = sum(r.arg_fp for r in results)
    fn = sum(r.arg_fn for r in results)
    per_category: dict[str, Metric] = {}
    groups: dict[str, list[ExampleResult]] = {}
    for r in results:
        for key in {r.category, r.subcategory} - {None, ""}:
            groups.setdefault(str(key), []).append(r)
    for key in sorted(groups):
        members = groups[key]
        per_category[key] = Metric(f"{HEADLINE}/{key}", sum(r.passed for r in members), len(members))
    errors = Counter(r.error_kind for r in results if not r.passed and r.error_kind)
    return EvalMetrics(
        n_examples=n,
        exact_match=Metric(HEADLINE, sum(r.passed for r in results), n),
        tool_selection=Metric("tool_selection", sum(r.tool_selection_correct for r in results), n),
        arg_precision=Metric("arg_precision", tp, tp + fp),
        arg_recall=Metric("arg_recall", tp, tp + fn),
        well_formed=Metric("well_formed", sum(r.well_formed for r in results), n),
        irrelevance_accuracy=Metric("irrelevance_accuracy", sum(r.passed for r in irrelevant), len(irrelevant)),
        per_category=per_category,
        error_counts={k: errors.get(k, 0) for k in ERROR_KINDS},
    )


def failure_record(result: ExampleResult) -> dict[str, Any]:
    """One line of the failures file: enough to see why without re-running the model."""
    return {
        "id": result.id,
        "category": result.category,
        "subcategory": result.subcategory,
        "prompt": result.prompt,
        "raw_output": result.raw_output,
        "parsed_calls": result.predicted,
        "expected": result.expected,
        "error_kind": result.error_kind,
        "error_kinds": result.error_kinds,
        "messages": result.errors,
    }


def write_failures(path: str | os.PathLike[str], results: Sequence[ExampleResult]) -> int:
    """Write every failed example as JSON lines to ``path``; returns how many were written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with target.open("w", encoding="utf-8") as fh:
        for result in results:
            if not result.passed:
                fh.write(json.dumps(failure_record(result), ensure_ascii=False, default=str) + "\n")
                count += 1
    return count
