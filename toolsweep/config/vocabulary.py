"""The words a sweep file and a trial's metrics share, each written once, here, at the bottom of the layers.

Why here: the schema must check these names (a data source's category, a rejection kind, the metric a sweep
optimises, a BFCL category) before any trial runs, and the config layer may not import the data, evaluation
or models layers that use them. So the names live here, and those layers derive theirs from this module:
``data.generator`` its categories, ``data.preferences`` its rejection kinds, ``evaluation.scoring`` its error
kinds, ``evaluation.metrics`` its metric names, ``data.bfcl`` its category groups, ``evaluation.generation``
its generation limit. What each name *means* is documented where it is produced.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "BFCL_CATEGORY_GROUPS",
    "CLARIFY",
    "DEFAULT_MAX_NEW_TOKENS",
    "ERROR_KINDS",
    "HEADLINE_METRIC",
    "METRIC_NAMES",
    "REJECTION_KINDS",
    "ROW_FORMATS",
    "TOOL_CALL_CATEGORIES",
    "UNSEEN_PHRASING",
    "BundledSet",
    "RejectionKind",
    "RowFormat",
    "ToolCallCategory",
    "is_metric_name",
    "metric_direction",
]

ToolCallCategory = Literal["simple", "multiple", "parallel", "irrelevance", "clarify"]
"""What the right answer to a request is: one call, one call among many tools, several calls, no call (no tool
fits), or a question for a missing required value (``data.generator`` describes each)."""
TOOL_CALL_CATEGORIES: tuple[str, ...] = get_args(ToolCallCategory)
CLARIFY = "clarify"
"""The category whose right answer is a question for a missing required argument (When2Call's "ask")."""

RowFormat = Literal["messages", "xlam", "when2call"]
"""How the rows of a user's data file are laid out (``data.formats`` converts each to contract examples)."""
ROW_FORMATS: tuple[str, ...] = get_args(RowFormat)

BundledSet = Literal["validation", "test", "unseen_phrasing"]
"""The bundled evaluation sets; ``unseen_phrasing`` is the test split worded with templates training never
saw."""
UNSEEN_PHRASING = "unseen_phrasing"

RejectionKind = Literal["wrong_tool", "missing_argument", "wrong_type", "wrong_value", "invented_argument",
                        "invented_value", "malformed_json", "spurious_call", "missed_call", "asked_needlessly"]
"""How a DPO pair's rejected answer is made wrong (``data.preferences`` builds each)."""
REJECTION_KINDS: tuple[str, ...] = get_args(RejectionKind)

WRONG_TOOL = "wrong_tool"
MISSING_ARGUMENT = "missing_argument"
UNEXPECTED_ARGUMENT = "unexpected_argument"
WRONG_TYPE = "wrong_type"
WRONG_VALUE = "wrong_value"
MALFORMED = "malformed"
SPURIOUS_CALL = "spurious_call"
MISSED_CALL = "missed_call"
SHOULD_HAVE_ASKED = "should_have_asked"
ASKED_NEEDLESSLY = "asked_needlessly"
ERROR_KINDS: tuple[str, ...] = (WRONG_TOOL, MISSING_ARGUMENT, UNEXPECTED_ARGUMENT, WRONG_TYPE, WRONG_VALUE,
                                MALFORMED, SPURIOUS_CALL, MISSED_CALL, SHOULD_HAVE_ASKED, ASKED_NEEDLESSLY)
"""The scorer's error kinds (``evaluation.scoring`` says when each applies), reported as ``errors/<kind>``."""

HEADLINE_METRIC = "exact_match"
METRIC_NAMES: tuple[str, ...] = (HEADLINE_METRIC, "tool_selection", "arg_precision", "arg_recall", "arg_f1",
                                 "well_formed", "irrelevance_accuracy", "n_examples")
"""Every key of an evaluation's flat metrics except ``exact_match/<category>`` and ``errors/<kind>``."""

DEFAULT_MAX_NEW_TOKENS = 256
"""The one default generation limit: the sweep schema's ``eval.max_new_tokens`` and ``toolsweep eval`` use
it, so both score a model the same way. It fits every bundled reference answer (the longest, a parallel call,
is 155 tokens for the tiny model and 196 for SmolLM2); a trial reports how many answers a lower limit cuts."""

BFCL_CATEGORY_GROUPS: dict[str, str] = {
    "simple_python": "simple",
    "multiple": "multiple",
    "parallel": "parallel",
    "parallel_multiple": "parallel",
    "irrelevance": "irrelevance",
    "live_simple": "simple",
    "live_multiple": "multiple",
    "live_parallel": "parallel",
    "live_parallel_multiple": "parallel",
    "live_irrelevance": "irrelevance",
}
"""The BFCL single-turn categories read (``data.bfcl``), each with the tool-call category it is reported
under."""


_LOWER_IS_BETTER = ("when2call/tool_hallucination_rate",)
_NO_DIRECTION = ("n_examples", "when2call/n_examples")


def _evaluation_direction(name: str) -> Literal["max", "min"] | None:
    """The direction of an evaluation's own key (``exact_match``, ``errors/wrong_tool``, ``when2call/...``).
    """
    if name in _NO_DIRECTION:
        return None
    if name.startswith("errors/") or name in _LOWER_IS_BETTER:
        return "min"
    if is_metric_name(name) or name.startswith("when2call/"):
        return "max"
    return None


def metric_direction(metric: str) -> Literal["max", "min"] | None:
    """Which way a reported metric improves: ``"max"`` for accuracies and F1s, ``"min"`` for error counts, the
    tool-hallucination rate, losses and costs, None where it has no direction (``n_examples``) or is unknown.

    Why: a sweep takes its ``search.mode`` from here when none is given, and ``validate`` rejects a mode that
    optimises a metric the wrong way (maximising ``val/errors/wrong_tool`` would pick the worst trial)."""
    scope, _, rest = metric.partition("/")
    if scope == "cost":
        return "min"
    if scope in ("sft", "dpo"):
        return "min" if rest.endswith("loss") else _evaluation_direction(rest)
    if scope in ("val", "base"):
        return _evaluation_direction(rest)
    if scope == "test":  # test/<set name>/<key> for further sets, test/<key> for the first
        return _evaluation_direction(rest.partition("/")[2]) or _evaluation_direction(rest)
    return _evaluation_direction(metric)


def is_metric_name(name: str) -> bool:
    """Whether an evaluation reports ``name`` (when its data has the category): what a sweep may optimise."""
    head, _, rest = name.partition("/")
    if head == HEADLINE_METRIC and rest:
        return True  # exact_match/<category>: categories depend on the data
    if head == "errors":
        return rest in ERROR_KINDS
    return name in METRIC_NAMES
