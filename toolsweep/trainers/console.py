"""What ``toolsweep train`` prints: one progress line per report and a table of the stages' accuracy.

The table answers the mission's question for one configuration: how much does SFT add over the base
model, and DPO over SFT, on the validation split.
"""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["ProgressPrinter", "stage_table"]

_SHOWN = ("loss", "rewards/accuracies", "rewards/margins", "tokens_per_second")
_COLUMNS = ("exact_match", "tool_selection", "well_formed", "irrelevance_accuracy", "arg_f1")


class ProgressPrinter:
    """A ``Reporter`` that prints training progress compactly, one line per log or validation."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self.stream = stream
        self._seen_final: set[str] = set()

    def __call__(self, metrics: dict[str, float]) -> None:
        parts = []
        for stage in ("sft", "dpo"):
            if f"{stage}/step" in metrics:
                parts.append(f"{stage} step {int(metrics[f'{stage}/step'])}")
                parts += [f"{key} {metrics[f'{stage}/{key}']:.4g}" for key in _SHOWN if f"{stage}/{key}" in metrics]
        if "val/exact_match" in metrics and parts:
            parts.append(f"val exact_match {metrics['val/exact_match']:.3f}")
        for stage in ("base", "sft"):
            key = f"{stage}/exact_match"
            if key in metrics and key not in self._seen_final:
                self._seen_final.add(key)
                parts.append(f"{stage} model: validation exact_match {metrics[key]:.3f}")
        if parts:
            print("  " + ", ".join(parts), file=self.stream, flush=True)


def stage_table(metrics: dict[str, float], final_label: str) -> str:
    """Rows base / SFT / final (SFT+DPO, SFT only or DPO only), columns the headline metrics."""
    rows = [("base", "base"), ("sft", "SFT"), ("val", final_label)]
    header = f"{'model':<10}" + "".join(f"{column:>22}" for column in _COLUMNS)
    lines = ["validation split", header]
    for prefix, label in rows:
        if f"{prefix}/exact_match" not in metrics or (prefix == "sft" and final_label == "SFT"):
            continue
        cells = "".join(
            f"{metrics[f'{prefix}/{column}']:>22.3f}" if f"{prefix}/{column}" in metrics else f"{'-':>22}"
            for column in _COLUMNS
        )
        lines.append(f"{label:<10}{cells}")
    return "\n".join(lines)
