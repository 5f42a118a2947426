"""Per-example scoring with the semantics of BFCL's AST checker.

Reference: ``berkeley-function-call-leaderboard/bfcl_eval/eval_checker/ast_eval/ast_checker.py``
(gorilla, Apache-2.0), read and re-implemented, not copied. What we keep from it:

* right function name; every ``required`` parameter present; no parameter outside the schema *or*
  outside the ground truth (``unexpected_argument``); a ground-truth parameter whose acceptable
  values do not contain ``""`` must be given (``missing_argument``);
* the declared type is checked first (BFCL's python names and JSON-schema names both work), an
  ``int`` is accepted where ``float``/``number`` is declared, ``bool`` is never an ``int``;
  BFCL's "variable" rule: a value whose type equals the type of an acceptable value passes the
  type check (ground truth sometimes names a variable, a string, for a numeric parameter);
* values are compared against a list of acceptable values; strings are normalised as BFCL does
  (drop `` ,./-_*^``, lowercase, ``'``→``"``); dicts key by key (each ground-truth value a list of
  acceptable values, a missing key allowed when ``""`` is acceptable), lists element-wise;
* parallel calls match regardless of order, each expected call to a distinct predicted call;
* an example with no expected call (irrelevance) passes only when no call is made.

Where we differ, on purpose: string normalisation applies at every nesting depth (BFCL: top level,
list elements and dict values); parallel matching is a maximum bipartite matching, not BFCL's
greedy first-fit (greedy can fail when a valid assignment exists); ``"any"`` accepts every type;
names are compared exactly (BFCL rewrites ``.`` to ``_`` for some API models); and by default a
malformed ``<tool_call>`` block fails an irrelevance example (BFCL counts an undecodable output as
"no call"; pass ``irrelevance_ignores_malformed=True`` for that). Call-count errors come first:
fewer calls than expected is ``missed_call``, more is ``spurious_call``; per-call errors follow.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from toolsweep.evaluation.parsing import ParsedOutput, ToolCall

WRONG_TOOL = "wrong_tool"
MISSING_ARGUMENT = "missing_argument"
UNEXPECTED_ARGUMENT = "unexpected_argument"
WRONG_TYPE = "wrong_type"
WRONG_VALUE = "wrong_value"
MALFORMED = "malformed"
SPURIOUS_CALL = "spurious_call"
MISSED_CALL = "missed_call"
ERROR_KINDS: tuple[str, ...] = (
    WRONG_TOOL,
    MISSING_ARGUMENT,
    UNEXPECTED_ARGUMENT,
    WRONG_TYPE,
    WRONG_VALUE,
    MALFORMED,
    SPURIOUS_CALL,
    MISSED_CALL,
)

GroundTruth = list[dict[str, dict[str, list[Any]]]]

# Declared type name -> python type; BFCL's python names, JSON-schema names and BFCL's Java/JS names.
_TYPES: dict[str, type] = {
    **dict.fromkeys(("string", "str", "char", "String"), str),
    **dict.fromkeys(("integer", "int", "long", "short", "byte", "Bigint"), int),
    **dict.fromkeys(("number", "float", "double"), float),
    **dict.fromkeys(("boolean", "bool", "Boolean"), bool),
    **dict.fromkeys(("array", "list", "tuple", "Array", "ArrayList", "Queue", "Stack"), list),
    **dict.fromkeys(("object", "dict", "HashMap", "Hashtable"), dict),
    "null": type(None),
}
_STD_RE = re.compile(r"[ ,./\-_*^]")


def standardize_string(s: str) -> str:
    """BFCL's normalisation, so "April 1, 2024" and "april 1 2024" compare equal."""
    return _STD_RE.sub("", s).lower().replace("'", '"')


@dataclass
class ExampleResult:
    """Outcome of one example. ``error_kind`` is the first error; ``errors`` lists all messages."""

    id: str
    category: str
    passed: bool
    error_kind: str | None
    error_kinds: list[str]
    errors: list[str]
    tool_selection_correct: bool
    well_formed: bool
    arg_tp: int
    arg_fp: int
    arg_fn: int
    n_expected_calls: int
    n_predicted_calls: int
    subcategory: str | None = None
    predicted: list[dict[str, Any]] = field(default_factory=list)
    expected: GroundTruth = field(default_factory=list)
    raw_output: str | None = None
    prompt: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Check:
    """Result of comparing one predicted call with one expected call."""

    kinds: list[str]
    messages: list[str]
    tp: int
    fp: int
    fn: int

    @property
    def ok(self) -> bool:
        return not self.kinds


def function_docs(tools: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Index function docs by name; accepts OpenAI tool specs or bare BFCL function docs."""
    docs: dict[str, dict[str, Any]] = {}
    for tool in tools:
        fn = tool.get("function", tool) if tool.get("type") == "function" else tool
        docs[str(fn["name"])] = dict(fn)
    return docs


def _py_type(declared: Any) -> type | None:
    return _TYPES.get(declared) if isinstance(declared, str) else None


def _type_ok(value: Any, declared: Any) -> bool:
    """Strict type check; unknown or missing declared types (and "any") accept everything."""
    if isinstance(declared, list):  # JSON-schema union, e.g. ["string", "null"]
        return any(_type_ok(value, d) for d in declared)
    expected = _py_type(declared)
    if expected is None:
        return True
    if expected is float:
        return type(value) in (int, float)
    if expected is list:
        return isinstance(value, (list, tuple))
    return type(value) is expected


def literal_eq(pred: Any, opt: Any) -> bool:
    """Does ``pred`` equal one acceptable value ``opt`` (dicts in ground-truth form)?"""
    if isinstance(opt, dict):
        if not isinstance(pred, dict):
            return False
        for key, val in pred.items():
            if key not in opt:
                return False
            acc = opt[key]
            if not (_matches_any(val, acc) if isinstance(acc, list) else literal_eq(val, acc)):
                return False
        return all(k in pred or (isinstance(a, list) and "" in a) for k, a in opt.items())
    if isinstance(opt, list):
        return (
            isinstance(pred, (list, tuple))
            and len(pred) == len(opt)
            and all(literal_eq(p, o) for p, o in zip(pred, opt))
        )
    if isinstance(opt, str):
        return isinstance(pred, str) and standardize_string(pred) == standardize_string(opt)
    if isinstance(opt, bool) or isinstance(pred, bool):
        return type(pred) is type(opt) and pred == opt
    if isinstance(opt, (int, float)):
        return type(pred) in (int, float) and pred == opt
    return pred == opt


def _matches_any(pred: Any, acceptable: Sequence[Any]) -> bool:
    return any(literal_eq(pred, opt) for opt in acceptable)


def _variable_type_ok(value: Any, acceptable: Sequence[Any]) -> bool:
    """BFCL's variable rule: the value has the exact type of some acceptable (non-"") value."""
    return any(type(value) is type(opt) for opt in acceptable if opt != "")


def _check_param(name: str, value: Any, acceptable: list[Any], schema: Mapping[str, Any]) -> tuple[str, str] | None:
    declared = schema.get("type")
    if _py_type(declared) is float and type(value) is int:
        value = float(value)  # python's int -> float promotion, as BFCL allows
    type_ok = _type_ok(value, declared) or _variable_type_ok(value, acceptable)
    items = schema.get("items")
    is_list = _py_type(declared) is list and isinstance(items, Mapping) and isinstance(value, (list, tuple))
    if (
        type_ok
        and is_list
        and not all(_type_ok(v, items.get("type")) for v in value)
        and not _matches_any(value, acceptable)
    ):
        return WRONG_TYPE, f"argument {name!r}: items of {value!r} are not all of type {items.get('type')!r}"
    if not type_ok:
        return WRONG_TYPE, f"argument {name!r}: expected type {declared!r}, got {type(value).__name__} {value!r}"
    if not _matches_any(value, acceptable):
        shown = [a for a in acceptable if a != ""]
        return WRONG_VALUE, f"argument {name!r}: {value!r} is not one of {shown!r}"
    return None


def _needed(acceptable: Sequence[Any]) -> bool:
    return "" not in acceptable


def check_call(call: ToolCall, expected_name: str, expected_params: Mapping[str, list[Any]],
               doc: Mapping[str, Any] | None) -> _Check:
    """Compare one predicted call with one expected call; collects every error, in BFCL's order."""
    needed = sum(_needed(a) for a in expected_params.values())
    if call.name != expected_name:
        return _Check([WRONG_TOOL], [f"called {call.name!r}, expected {expected_name!r}"],
                      0, len(call.arguments), needed)
    params = (doc or {}).get("parameters") or {}
    props: Mapping[str, Any] | None = params.get("properties") if doc is not None else None
    required = list(params.get("required") or [])
    kinds: list[str] = []
    messages: list[str] = []
    tp = fp = 0
    correct: set[str] = set()
    for r in required:
        if r not in call.arguments:
            kinds.append(MISSING_ARGUMENT)
            messages.append(f"{expected_name}: required argument {r!r} is missing")
    for key, value in call.arguments.items():
        if (props is not None and key not in props) or key not in expected_params:
            kinds.append(UNEXPECTED_ARGUMENT)
            where = "the schema" if props is not None and key not in props else "the expected call"
            messages.append(f"{expected_name}: argument {key!r} is not defined by {where}")
            fp += 1
            continue
        err = _check_param(key, value, expected_params[key], (props or {}).get(key) or {})
        if err is None:
            tp += 1
            correct.add(key)
        else:
            kinds.append(err[0])
            messages.append(f"{expected_name}: {err[1]}")
            fp += 1
    for key, acceptable in expected_params.items():
        if key not in call.arguments and _needed(acceptable) and key not in required:
            kinds.append(MISSING_ARGUMENT)
            messages.append(f"{expected_name}: argument {key!r} is missing (no default is acceptable)")
    fn = sum(1 for k, a in expected_params.items() if _needed(a) and k not in correct)
    return _Check(kinds, messages, tp, fp, fn)


def _max_matching(ok: list[list[bool]], n_pred: int) -> list[int | None]:
    """Kuhn's augmenting paths: expected index -> predicted index over ``ok`` edges."""
    owner: list[int | None] = [None] * n_pred

    def augment(i: int, seen: set[int]) -> bool:
        for j in range(n_pred):
            if ok[i][j] and j not in seen:
                seen.add(j)
                if owner[j] is None or augment(owner[j], seen):  # type: ignore[arg-type]
                    owner[j] = i
                    return True
        return False

    for i in range(len(ok)):
        augment(i, set())
    match: list[int | None] = [None] * len(ok)
    for j, i in enumerate(owner):
        if i is not None:
            match[i] = j
    return match


def score_output(
    parsed: ParsedOutput,
    ground_truth: GroundTruth,
    functions: Iterable[Mapping[str, Any]],
    *,
    example_id: str = "",
    category: str = "",
    subcategory: str | None = None,
    irrelevance_ignores_malformed: bool = False,
) -> ExampleResult:
    """Score one parsed completion against BFCL-form ground truth.

    ``functions`` are the function docs the scorer checks types and defined parameters against
    (BFCL docs or OpenAI tool specs). ``ground_truth`` is ``[{func_name: {param: [acceptable]}}]``;
    an empty list means no call should be made (irrelevance).
    """
    docs = function_docs(functions)
    expected = [(next(iter(c)), next(iter(c.values()))) for c in ground_truth]
    calls = parsed.calls
    n_exp, n_pred = len(expected), len(calls)
    kinds: list[str] = []
    messages: list[str] = []
    malformed = parsed.malformed and not (irrelevance_ignores_malformed and n_exp == 0)
    if malformed:
        kinds.append(MALFORMED)
        messages.append("malformed tool call: " + "; ".join(parsed.errors or [str(parsed.malformed_reason)]))
    if n_pred < n_exp:
        kinds.append(MISSED_CALL)
        messages.append(f"expected {n_exp} call(s), got {n_pred}")
    elif n_pred > n_exp:
        kinds.append(SPURIOUS_CALL)
        messages.append(f"expected {n_exp} call(s), got {n_pred}")

    checks = [[check_call(c, name, params, docs.get(name)) for c in calls] for name, params in expected]
    match = _max_matching([[ch.ok for ch in row] for row in checks], n_pred)
    # Pair each unmatched expected call with its closest unused prediction, for messages and counts.
    used = {j for j in match if j is not None}
    for i, j in enumerate(match):
        if j is None:
            free = [k for k in range(n_pred) if k not in used]
            if free:
                best = min(free, key=lambda k: (checks[i][k].kinds[:1] == [WRONG_TOOL], len(checks[i][k].kinds)))
                match[i] = best
                used.add(best)
    tp = fp = fn = 0
    for i, j in enumerate(match):
        name, params = expected[i]
        if j is None:
            kinds.append(MISSED_CALL)
            messages.append(f"no call matches expected call {i} ({name})")
            fn += sum(_needed(a) for a in params.values())
            continue
        ch = checks[i][j]
        kinds.extend(ch.kinds)
        messages.extend(ch.messages)
        tp, fp, fn = tp + ch.tp, fp + ch.fp, fn + ch.fn
    for j in range(n_pred):
        if j not in used:
            if n_exp == 0 or n_pred > n_exp:
                kinds.append(SPURIOUS_CALL)
                messages.append(f"call {j} ({calls[j].name}) matches no expected call")
            fp += len(calls[j].arguments)

    if n_exp == 0:
        passed = n_pred == 0 and not malformed
    else:
        passed = not malformed and n_pred == n_exp and all(j is not None and checks[i][j].ok
                                                           for i, j in enumerate(match))
    selection = Counter(c.name for c in calls) == Counter(name for name, _ in expected)
    return ExampleResult(
        id=example_id,
        category=category,
        passed=passed,
        error_kind=None if passed else (kinds[0] if kinds else MALFORMED),
        error_kinds=[] if passed else kinds,
        errors=[] if passed else messages,
        tool_selection_correct=selection,
        well_formed=not parsed.malformed,
        arg_tp=tp,
        arg_fp=fp,
        arg_fn=fn,
        n_expected_calls=n_exp,
        n_predicted_calls=n_pred,
        subcategory=subcategory,
        predicted=[c.to_dict() for c in calls],
        expected=ground_truth,
    )
