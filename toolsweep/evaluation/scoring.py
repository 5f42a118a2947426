"""Per-example scoring with the semantics of BFCL's AST checker.

Reference: ``bfcl_eval/eval_checker/ast_eval/ast_checker.py`` (gorilla, Apache-2.0, ``bfcl-eval``
2026.3.23), read and re-implemented, not copied; the per-argument rules live in
:mod:`toolsweep.evaluation.bfcl_rules`. What we keep from it:

* right function name; every ``required`` parameter present; no parameter outside the schema *or*
  outside the ground truth (``unexpected_argument``); a ground-truth parameter whose acceptable
  values do not contain ``""`` must be given (``missing_argument``);
* each argument: its declared type first, then its value, by BFCL's rules and quirks (listed in
  ``bfcl_rules``: no int -> float promotion inside arrays, the "variable" rule, ``[]`` for an
  omittable array, ``==`` inside dicts, ...);
* parallel calls match regardless of order, each expected call to a distinct predicted call, by
  BFCL's greedy first fit;
* an example with no expected call (irrelevance) passes only when no call is made.

Beyond BFCL, When2Call's "when to call" decisions: a ``clarify`` example (a required argument is missing
from the request) passes only when no call is made and the answer asks a question; a call there, or a
refusal, is ``should_have_asked``. A question where calls were expected is ``asked_needlessly`` (otherwise
``missed_call``).

Two rule sets, chosen by ``score_output(bfcl_exact=...)``; by default by caller:

* **BFCL tasks** (``load_bfcl``, ``toolsweep eval --suite bfcl``, any task whose ``subcategory`` is a
  BFCL category): BFCL's verdict, no deviation in the checker.
  ``tests/evaluation/test_eval_bfcl_agreement.py`` holds it against BFCL's own ``ast_checker`` on
  every AST category, live ones included.
* **the project's own data** (contract examples, the bundled splits, JSONL files): two deliberate
  deviations. (1) Nested values are compared recursively, every dict read in ground-truth form
  (``key -> [acceptable]``) and strings normalised at every depth; BFCL reads that form one level down
  only and compares deeper values with ``==``. Why: ``ground_truth_from_example`` writes nested dicts
  in that form at every depth and JSON-schema tools may omit ``items``, so BFCL's rule would fail our
  own reference answers (a list of dicts, a dict inside a dict). (2) Parallel calls are paired by a
  maximum bipartite matching, not first fit: first fit fails an output when an earlier expected call
  takes a prediction a later one needed although a valid pairing exists; a score should not depend on
  the order of the reference calls.

Outside the checker: on BFCL tasks an undecodable output on an irrelevance example counts as "no call"
and passes, as in BFCL; on the project's own data a malformed ``<tool_call>`` block fails it (a model
that starts a call where none fits has not declined; ``irrelevance_ignores_malformed`` overrides either
default). For both rule sets, names are compared exactly, as BFCL does for a
prompting model (it rewrites ``.`` to ``_`` only for API models that cannot emit dots); type names
BFCL does not know (JSON-schema names, unions, arrays without ``items``) are handled where BFCL would
raise. We collect every error where BFCL stops at the first; the verdict is the same. Call-count
errors come first: fewer calls than expected is ``missed_call``, more is ``spurious_call``; per-call
errors follow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from toolsweep.config.vocabulary import (
    ASKED_NEEDLESSLY,
    BFCL_CATEGORY_GROUPS,
    CLARIFY,
    MALFORMED,
    MISSED_CALL,
    MISSING_ARGUMENT,
    SHOULD_HAVE_ASKED,
    SPURIOUS_CALL,
    UNEXPECTED_ARGUMENT,
    WRONG_TOOL,
)
from toolsweep.data.eval_task import GroundTruth
from toolsweep.evaluation.bfcl_rules import check_argument
from toolsweep.evaluation.parsing import ParsedOutput, ToolCall


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


def _needed(acceptable: Sequence[Any]) -> bool:
    return "" not in acceptable


def check_call(call: ToolCall, expected_name: str, expected_params: Mapping[str, list[Any]],
               doc: Mapping[str, Any] | None, *, bfcl_exact: bool = True) -> _Check:
    """Compare one predicted call with one expected call; collects every error, in BFCL's order
    (BFCL stops at the first, which gives the same verdict). ``bfcl_exact=False`` compares nested
    values with the project's rule (see :mod:`toolsweep.evaluation.bfcl_rules`)."""
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
        err = check_argument(key, value, expected_params[key], (props or {}).get(key) or {},
                             nested_ground_truth=not bfcl_exact)
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


def _greedy_matching(ok: list[list[bool]], n_pred: int) -> list[int | None]:
    """BFCL's first fit: each expected call, in order, takes the first unused prediction that passes."""
    used: set[int] = set()
    match: list[int | None] = []
    for row in ok:
        j = next((j for j in range(n_pred) if row[j] and j not in used), None)
        match.append(j)
        if j is not None:
            used.add(j)
    return match


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


def is_bfcl_category(subcategory: str | None) -> bool:
    """Is this one of BFCL's category names (a task loaded from BFCL data)?"""
    return subcategory in BFCL_CATEGORY_GROUPS


def is_question(text: str) -> bool:
    """Whether a plain-text answer asks something back (When2Call's "ask a follow-up question")."""
    return "?" in (text or "")


def _decision_errors(parsed: ParsedOutput, category: str, n_exp: int, asked: bool,
                     malformed: bool) -> tuple[list[str], list[str]]:
    """The errors of the whole answer, before any call is compared: should it have asked, is it well formed,
    and did it make as many calls as expected. They come first in ``error_kinds``."""
    n_pred = len(parsed.calls)
    kinds: list[str] = []
    messages: list[str] = []
    if category == CLARIFY and (n_pred or parsed.malformed or not asked):
        kinds.append(SHOULD_HAVE_ASKED)
        messages.append("a required argument is missing from the request: the answer should ask for it, "
                        + ("not call" if n_pred or parsed.malformed else "and it asked nothing"))
    if malformed:
        kinds.append(MALFORMED)
        messages.append("malformed tool call: " + "; ".join(parsed.errors or [str(parsed.malformed_reason)]))
    if n_pred < n_exp:
        kinds.append(ASKED_NEEDLESSLY if n_pred == 0 and asked else MISSED_CALL)
        messages.append(f"expected {n_exp} call(s), got {n_pred}" + (" and a question" if n_pred == 0 and asked else ""))
    elif n_pred > n_exp:
        kinds.append(SPURIOUS_CALL)
        messages.append(f"expected {n_exp} call(s), got {n_pred}")
    return kinds, messages


def _pair_calls(checks: list[list[_Check]], n_pred: int, exact: bool) -> list[int | None]:
    """Which predicted call answers each expected one: the passing pairs by BFCL's first fit (``exact``) or a
    maximum matching, then each unmatched expected call gets its closest unused prediction, so that its
    errors name what went wrong with the call meant for it."""
    match = (_greedy_matching if exact else _max_matching)([[ch.ok for ch in row] for row in checks], n_pred)
    used = {j for j in match if j is not None}
    for i, j in enumerate(match):
        if j is None:
            free = [k for k in range(n_pred) if k not in used]
            if free:
                best = min(free, key=lambda k: (checks[i][k].kinds[:1] == [WRONG_TOOL], len(checks[i][k].kinds)))
                match[i] = best
                used.add(best)
    return match


def _collect_call_errors(expected: list[tuple[str, Any]], calls: Sequence[ToolCall], checks: list[list[_Check]],
                         match: list[int | None], kinds: list[str], messages: list[str]) -> tuple[int, int, int]:
    """Append each paired call's errors (and the unpaired calls') to ``kinds``/``messages``; return the
    argument counts (true positives, false positives, false negatives) for argument F1."""
    n_exp, n_pred = len(expected), len(calls)
    used = {j for j in match if j is not None}
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
    return tp, fp, fn


def score_output(
    parsed: ParsedOutput,
    ground_truth: GroundTruth,
    functions: Iterable[Mapping[str, Any]],
    *,
    example_id: str = "",
    category: str = "",
    subcategory: str | None = None,
    irrelevance_ignores_malformed: bool | None = None,
    bfcl_exact: bool | None = None,
) -> ExampleResult:
    """Score one parsed completion against BFCL-form ground truth.

    ``functions`` are the function docs the scorer checks types and defined parameters against
    (BFCL docs or OpenAI tool specs). ``ground_truth`` is ``[{func_name: {param: [acceptable]}}]``;
    an empty list means no call should be made (irrelevance). ``bfcl_exact``: True gives BFCL's
    verdict, False the project's rules for its own data (see the module docstring); None (the
    default) chooses BFCL's when ``subcategory`` names a BFCL category, as every task from
    :func:`toolsweep.data.bfcl.load_bfcl` does, and the project's otherwise.
    """
    exact = is_bfcl_category(subcategory) if bfcl_exact is None else bfcl_exact
    expected = [(next(iter(c)), next(iter(c.values()))) for c in ground_truth]
    calls = parsed.calls
    n_exp, n_pred = len(expected), len(calls)
    asked = is_question(parsed.content)
    ignore_malformed = exact if irrelevance_ignores_malformed is None else irrelevance_ignores_malformed
    malformed = parsed.malformed and not (ignore_malformed and n_exp == 0)
    kinds, messages = _decision_errors(parsed, category, n_exp, asked, malformed)
    docs = function_docs(functions)
    checks = [[check_call(c, name, params, docs.get(name), bfcl_exact=exact) for c in calls]
              for name, params in expected]
    match = _pair_calls(checks, n_pred, exact)
    tp, fp, fn = _collect_call_errors(expected, calls, checks, match, kinds, messages)
    if n_exp == 0:
        passed = n_pred == 0 and not malformed and (category != CLARIFY or asked)
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
