"""Validation and test sets named in the sweep file: bundled splits, user files, hub sets, BFCL, or a holdout.

A user sweeping over their own tools must be scored on those tools, not on the bundled catalogue, so each
evaluation set of ``data.validation`` / ``data.test`` can come from anywhere the training data can, or from a
``holdout`` fraction of the user's own training sources. The holdout is split off *before* the training mix
is sampled, per source and stratified by tool (the names the reference answer calls, or none), and ordered by
a hash of each row, so it is the same in every trial and no row is ever in both training and evaluation.

Every set is fixed across trials (it does not depend on the trial's mix or seed), so accuracies of trials
with different mixes stay comparable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from toolsweep.config.schema import DataConfig, EvalSet
from toolsweep.config.vocabulary import UNSEEN_PHRASING
from toolsweep.data.bfcl import load_bfcl
from toolsweep.data.checks import load_hub_report
from toolsweep.data.loaders import load_jsonl
from toolsweep.data.reports import DataFileError, DataValidationError, LoadReport, usable_rows

__all__ = ["describe_eval_set", "eval_command", "holdout_split", "load_eval_set", "load_user_rows", "row_key", "tool_stratum"]


def load_user_rows(where: str, config: Any, strict: bool) -> list[dict[str, Any]]:
    """The rows of a ``path`` or ``hub`` source or set; bad rows are reported (``where`` names the field)."""
    report: LoadReport
    if config.path is not None:
        report = load_jsonl(config.path, config.format, strict=strict)
    else:
        report = load_hub_report(where, config.hub, config.split, config.format)
        if strict and report.errors:
            raise DataValidationError(report.errors)
    return usable_rows(report, where)


def row_key(example: dict[str, Any]) -> str:
    """A content hash: the order rows are held out in, independent of their order in the file."""
    content = {"tools": example.get("tools"), "messages": example.get("messages")}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def tool_stratum(example: dict[str, Any]) -> str:
    """The tools the reference answer calls ("" when it calls none): what the holdout stratifies by."""
    calls = [call for message in example.get("messages", []) if message.get("role") == "assistant"
             for call in message.get("tool_calls") or []]
    return ",".join(sorted({str(call.get("function", call).get("name")) for call in calls}))


def holdout_split(examples: Sequence[dict[str, Any]], fractions: Sequence[float]
                  ) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """``(kept, [held_1, held_2, ...])``: within each tool stratum, distinct rows in hash order, ``fractions[i]``
    of them held out for set ``i`` (cumulative rounding, so the shares add up exactly) and the rest kept for
    training. Copies of a row go together, so a duplicated row can never be on both sides."""
    strata: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for example in examples:
        strata.setdefault(tool_stratum(example), {}).setdefault(row_key(example), []).append(example)
    kept: list[dict[str, Any]] = []
    held: list[list[dict[str, Any]]] = [[] for _ in fractions]
    for name in sorted(strata):
        keys = sorted(strata[name])
        start, cumulative = 0, 0.0
        for i, fraction in enumerate(fractions):
            cumulative += fraction
            end = round(cumulative * len(keys))
            held[i].extend(row for key in keys[start:end] for row in strata[name][key])
            start = end
        kept.extend(row for key in keys[start:] for row in strata[name][key])
    return kept, held


def _cap(rows: list[Any], n: int | None) -> list[Any]:
    """The first ``n`` rows, as ``toolsweep eval --n`` takes them, so a model card's command re-scores the same."""
    return rows if n is None else rows[:n]


def describe_eval_set(config: EvalSet) -> str:
    """What an evaluation set is, in a few words, for model cards and `toolsweep validate`."""
    if config.builtin == UNSEEN_PHRASING:
        return "bundled test split, wordings training never saw"
    if config.builtin is not None:
        return f"bundled {config.builtin} split (values new to training, its wordings)"
    if config.holdout is not None:
        return f"{config.holdout:.0%} of the path/hub training sources, held out before sampling"
    if config.bfcl is not None:
        return "BFCL " + ", ".join(config.bfcl)
    return f"`{config.path}`" if config.path is not None else f"hub `{config.hub}` ({config.split})"


def eval_command(model: str, config: EvalSet, default_n: int, max_new_tokens: int) -> str | None:
    """The ``toolsweep eval`` command that scores ``model`` on this set, or None for a holdout (it exists only
    inside a sweep: a share of the training sources)."""
    limit = f" --n {config.examples}" if config.examples else ""
    if config.builtin is not None:
        data = f"--data builtin:{config.builtin} --n {config.examples or default_n}"
    elif config.path is not None:
        data = f"--data {config.path}{limit}"
    elif config.hub is not None:
        data = f"--data hub:{config.hub}{limit}"
    elif config.bfcl is not None:
        source = f" --bfcl-source {config.bfcl_source}" if config.bfcl_source else ""
        data = f"--suite bfcl --categories {','.join(config.bfcl)}{source}{limit}"
    else:
        return None
    return f"toolsweep eval --model {model} {data} --max-new-tokens {max_new_tokens}"


def load_eval_set(where: str, config: EvalSet, data: DataConfig, default_n: int,
                  held: list[dict[str, Any]] | None = None) -> list[Any]:
    """The rows of one evaluation set: contract examples, or :class:`~toolsweep.data.eval_task.EvalTask` for
    BFCL. ``held`` is this set's share of the holdout when ``config.holdout`` is set."""
    if config.builtin is not None:
        from toolsweep.data.prepare import evaluation_split

        n = config.examples or default_n
        unseen = config.builtin == UNSEEN_PHRASING
        split, phrasing = ("test", "unseen") if unseen else (config.builtin, "seen")
        return evaluation_split(split, n, phrasing)
    if config.holdout is not None:
        if not held:
            raise DataFileError(f"{where}: holdout {config.holdout} of the path/hub training sources leaves no rows; "
                                "raise the fraction or add data")
        return _cap(held, config.examples)
    if config.bfcl is not None:
        return load_bfcl(config.bfcl, source=config.bfcl_source, limit=config.examples)
    return _cap(load_user_rows(where, config, data.strict), config.examples)
