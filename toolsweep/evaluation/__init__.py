"""Tool-calling evaluation: parse ``<tool_call>`` blocks, score them BFCL-style, aggregate metrics.

Importing this package does not import torch or transformers; generation imports them on first use.
"""

from toolsweep.config.vocabulary import ERROR_KINDS
from toolsweep.data.bfcl import (
    CATEGORY_GROUPS,
    LIVE_CATEGORIES,
    NON_LIVE_CATEGORIES,
    BFCLData,
    bfcl_function_to_tool,
    load_bfcl,
    open_bfcl,
)
from toolsweep.evaluation.bfcl_rules import standardize_string
from toolsweep.evaluation.generation import (
    GenerationOutput,
    generate_completions,
    plan_batches,
    render_prompt,
)
from toolsweep.evaluation.ground_truth import (
    calls_from_ground_truth,
    ground_truth_from_example,
    ground_truth_issues,
)
from toolsweep.evaluation.metrics import EvalMetrics, Metric, aggregate, failure_record, write_failures
from toolsweep.evaluation.parsing import (
    ParsedOutput,
    ToolCall,
    parse_output,
    parse_tool_calls,
    parse_with_response_schema,
    render_call,
    render_calls,
)
from toolsweep.evaluation.runner import (
    EvalReport,
    evaluate,
    evaluate_completions,
    evaluate_path,
    load_model,
    score_completions,
)
from toolsweep.evaluation.scoring import ExampleResult, score_output
from toolsweep.evaluation.tasks import EvalTask, as_tasks

__all__ = [
    "CATEGORY_GROUPS",
    "ERROR_KINDS",
    "LIVE_CATEGORIES",
    "NON_LIVE_CATEGORIES",
    "BFCLData",
    "EvalMetrics",
    "EvalReport",
    "EvalTask",
    "ExampleResult",
    "GenerationOutput",
    "Metric",
    "ParsedOutput",
    "ToolCall",
    "aggregate",
    "as_tasks",
    "bfcl_function_to_tool",
    "calls_from_ground_truth",
    "evaluate",
    "evaluate_completions",
    "evaluate_path",
    "failure_record",
    "generate_completions",
    "ground_truth_from_example",
    "ground_truth_issues",
    "load_bfcl",
    "load_model",
    "open_bfcl",
    "parse_output",
    "parse_tool_calls",
    "parse_with_response_schema",
    "plan_batches",
    "render_call",
    "render_calls",
    "render_prompt",
    "score_completions",
    "score_output",
    "standardize_string",
    "write_failures",
]
