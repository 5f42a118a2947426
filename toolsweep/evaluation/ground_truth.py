"""Reference answers as BFCL ground truth, and back.

A contract example's final assistant turn becomes BFCL's ground truth (each parameter a list of
acceptable values, ``""`` meaning it may be omitted), which ``scoring`` checks outputs against; the
reverse, the first acceptable value of each parameter, renders the reference calls for tests and
for checking a ground truth against its own function docs (BFCL ships a few rows no output can pass).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from toolsweep.data.eval_task import GroundTruth
from toolsweep.evaluation.bfcl_rules import nested_eq
from toolsweep.evaluation.parsing import ToolCall
from toolsweep.evaluation.scoring import function_docs

__all__ = ["calls_from_ground_truth", "ground_truth_from_example", "ground_truth_issues"]


def _to_gt(value: Any) -> Any:
    """A literal argument value as a BFCL acceptable value (dicts become key -> [acceptable])."""
    if isinstance(value, dict):
        return {k: [_to_gt(v)] for k, v in value.items()}
    if isinstance(value, list):
        return [_to_gt(v) for v in value]
    return value


def ground_truth_from_example(example: Mapping[str, Any]) -> GroundTruth:
    """Convert a contract example's final assistant ``tool_calls`` to BFCL ground truth.

    Decisions (so that scores mean "did what the reference did"):

    * an argument the reference gives must be given with that value: ``[value]``. If the parameter
      is optional and the value equals the schema ``default``, omitting it is equivalent and also
      accepted: ``[value, ""]``;
    * an optional parameter the reference omits may be omitted, or given its schema default:
      ``["", default]`` (or ``[""]`` without a default); any other value is ``wrong_value``;
    * no tool calls (irrelevance) gives ``[]``.
    """
    messages = example.get("messages") or []
    final = next((m for m in reversed(messages) if m.get("role") == "assistant"), None)
    if final is None:
        raise ValueError(f"example {example.get('id')!r} has no assistant message to take the expected calls "
                         "from; evaluation examples must end with the reference assistant turn")
    docs = function_docs(example.get("tools") or [])
    truth: GroundTruth = []
    for tc in final.get("tool_calls") or []:
        fn = tc.get("function", tc)
        name = fn["name"]
        args = fn.get("arguments") or {}
        if isinstance(args, str):
            args = json.loads(args)
        params = (docs.get(name) or {}).get("parameters") or {}
        props = params.get("properties") or {}
        required = set(params.get("required") or [])
        gt: dict[str, list[Any]] = {}
        for key, value in args.items():
            acc = [_to_gt(value)]
            schema = props.get(key) or {}
            if key not in required and "default" in schema and nested_eq(value, _to_gt(schema["default"]), normalise=True, strict_scalars=True):
                acc.append("")
            gt[key] = acc
        for key, schema in props.items():
            if key not in args and key not in required:
                gt[key] = [""] + ([_to_gt(schema["default"])] if "default" in schema else [])
        truth.append({name: gt})
    return truth


def _first_value(acceptable: Any) -> Any:
    if isinstance(acceptable, dict):
        out = {}
        for key, acc in acceptable.items():
            if isinstance(acc, list):
                if acc and acc[0] != "":
                    out[key] = _first_value(acc[0])
            else:
                out[key] = acc
        return out
    if isinstance(acceptable, list):
        return [_first_value(v) if isinstance(v, (dict, list)) else v for v in acceptable]
    return acceptable


def calls_from_ground_truth(ground_truth: GroundTruth,
                            functions: Iterable[Mapping[str, Any]] | None = None) -> list[ToolCall]:
    """The reference calls: first acceptable value of each parameter, ``""`` meaning omitted.

    With ``functions``, a parameter the schema requires takes its first non-``""`` value (BFCL
    sometimes lists ``""`` first for a required parameter, which its own checker would reject).
    """
    docs = function_docs(functions or [])
    calls = []
    for entry in ground_truth:
        for name, params in entry.items():
            required = set(((docs.get(name) or {}).get("parameters") or {}).get("required") or [])
            args = {}
            for key, acc in params.items():
                options = [a for a in acc if a != ""] if key in required else acc[:1]
                if options and options[0] != "":
                    args[key] = _first_value(options[0])
            calls.append(ToolCall(name=name, arguments=args))
    return calls


def ground_truth_issues(ground_truth: GroundTruth, functions: Iterable[Mapping[str, Any]]) -> list[str]:
    """Ways a ground truth contradicts its own function docs, so that no output can pass.

    BFCL ships a handful of such rows (a parameter the schema does not define, a required parameter
    with no acceptable value); callers can report or skip them instead of blaming the model.
    """
    docs = function_docs(functions)
    issues = []
    for entry in ground_truth:
        for name, params in entry.items():
            doc = docs.get(name)
            if doc is None:
                issues.append(f"{name}: not among the function docs")
                continue
            schema = doc.get("parameters") or {}
            props = schema.get("properties") or {}
            for key in params:
                if key not in props:
                    issues.append(f"{name}: ground-truth parameter {key!r} is not in the schema")
            for key in schema.get("required") or []:
                if not [a for a in params.get(key, []) if a != ""]:
                    issues.append(f"{name}: required parameter {key!r} has no acceptable value")
    return issues
