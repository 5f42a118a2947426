"""One argument against its acceptable values, by the rules of BFCL's ``ast_checker``.

Reference: ``bfcl_eval/eval_checker/ast_eval/ast_checker.py`` of ``bfcl-eval`` 2026.3.23 (gorilla,
Apache-2.0): its ``type_checker`` and its string, list, dict and list-of-dict checkers, read and
re-implemented, not copied. ``tests/evaluation/test_eval_bfcl_agreement.py`` holds this module against
that very file on BFCL's own data, so a rule here is BFCL's rule, quirks included:

* the declared type is checked first, with ``type(value)``: ``True`` is never an integer; an int given
  for a ``float`` is promoted first, but items of an array are not promoted (an int in a float array, a
  float in an int array: ``type_error:nested``);
* the "variable" rule: the type of the first non-``""`` acceptable value is a second accepted type
  (ground truth sometimes names a variable, a string, for a number); when it differs from the declared
  type, values are compared exactly, without string normalisation;
* strings compare normalised (:func:`standardize_string`); arrays element-wise, their top-level strings
  normalised; dicts key by key, a string value normalised, any other value compared with ``==`` (so
  ``True`` equals ``1`` inside a dict); arrays of dicts dict by dict; everything else with ``==``;
* an acceptable ``""`` ("may be omitted") also accepts an empty array, because BFCL compares the array
  with ``""`` as a sequence.

``nested_ground_truth=True`` is the project's rule for its own data (see ``scoring``): nested values are
compared recursively, every dict read in ground-truth form (``key -> [acceptable]``) and strings
normalised at every depth. ``ground_truth_from_example`` writes nested dicts in that form and JSON-schema
tools may omit ``items``; BFCL's one-level checkers would fail such a reference answer itself.

Type names BFCL does not know (JSON-schema names, unions such as ``["string", "null"]``) are mapped here;
BFCL itself would raise on them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from toolsweep.config.vocabulary import WRONG_TYPE, WRONG_VALUE

# Declared type name -> python type: BFCL's python names, JSON-schema names, BFCL's Java/JS names.
_TYPES: dict[str, type] = {
    **dict.fromkeys(("string", "str", "char", "String", "any"), str),
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


def _std(value: Any) -> Any:
    return standardize_string(value) if type(value) is str else value


def _answer_type(acceptable: Any) -> type | None:
    """Type of the first acceptable value that is not ``""`` (BFCL's ``get_possible_answer_type``)."""
    for answer in acceptable:
        if answer != "":
            return type(answer)
    return None


def _expected_type(declared: Any, value: Any, acceptable: Sequence[Any]) -> tuple[type, Any]:
    """The python type a declared type asks for, and ``value`` after BFCL's int -> float promotion.

    A union accepts any of its members; an unknown or missing type stands for the ground truth's type."""
    if isinstance(declared, list):
        members = [_TYPES.get(d) for d in declared if isinstance(d, str)]
        known = [m for m in members if m is not None]
        if type(value) in known or (None in members or not known):
            return type(value), value
        expected = float if float in known and type(value) is int else known[0]
    else:
        expected_or_none = _TYPES.get(declared) if isinstance(declared, str) else None
        expected = expected_or_none or _answer_type(acceptable) or type(value)
    if expected is float and type(value) is int:
        return float, float(value)
    return expected, value


def _item_type(schema: Mapping[str, Any]) -> type | None:
    items = schema.get("items")
    declared = items.get("type") if isinstance(items, Mapping) else None
    return _TYPES.get(declared) if isinstance(declared, str) else None


def _items_ok(value: Sequence[Any], acceptable: Sequence[Any], item_type: type) -> bool:
    """BFCL's one-level nested type check: some acceptable array has items of ``item_type`` or of its own
    first item's type; an acceptable that is not an array (``""``, a variable) passes."""
    for answer in acceptable:
        if type(answer) is not list:
            return True
        alt = _answer_type(answer)
        if all(type(v) is item_type or type(v) is alt for v in value):
            return True
    return False


def nested_eq(pred: Any, opt: Any, normalise: bool, strict_scalars: bool = False) -> bool:
    """Recursive equality reading dicts in ground-truth form (the project's rule for nested values).

    ``strict_scalars``: ``True`` never equals ``1`` and a number never equals a non-number; off, leaves compare
    with ``==`` as BFCL does inside dicts. ``ground_truth_from_example`` turns it on to decide whether a
    reference value is the schema default."""
    if isinstance(opt, dict):
        if not isinstance(pred, dict):
            return False
        for key, val in pred.items():
            if key not in opt:
                return False
            acc = opt[key]
            options = acc if isinstance(acc, list) else [acc]
            if not any(nested_eq(val, o, normalise, strict_scalars) for o in options):
                return False
        return all(k in pred or (isinstance(a, list) and "" in a) for k, a in opt.items())
    if isinstance(opt, (list, tuple)):
        return (isinstance(pred, (list, tuple)) and len(pred) == len(opt)
                and all(nested_eq(p, o, normalise, strict_scalars) for p, o in zip(pred, opt)))
    if isinstance(opt, str):
        return isinstance(pred, str) and (_std(pred) == _std(opt) if normalise else pred == opt)
    if strict_scalars and (isinstance(opt, bool) or isinstance(pred, bool)):
        return type(pred) is type(opt) and pred == opt
    if strict_scalars and isinstance(opt, (int, float)):
        return type(pred) in (int, float) and pred == opt
    return not isinstance(pred, (dict, list, tuple, str)) and pred == opt


def _as_list(answer: Any) -> list[Any] | None:
    """An acceptable value read as a sequence, as BFCL iterates it: ``""`` is the empty array."""
    return list(answer) if isinstance(answer, (list, tuple, str)) else None


def _list_ok(value: Sequence[Any], acceptable: Sequence[Any], nested: bool) -> bool:
    if nested:
        return any(nested_eq(list(value), seq, True) for seq in map(_as_list, acceptable) if seq is not None)
    got = [_std(v) for v in value]
    return any(got == [_std(x) for x in seq] for seq in map(_as_list, acceptable) if seq is not None)


def _dict_ok(value: Any, acceptable: Sequence[Any], nested: bool) -> bool:
    """BFCL's ``dict_checker``: some acceptable dict (ground-truth form) admits every key and value."""
    if not isinstance(value, dict):
        return False
    for answer in acceptable:
        if answer == "" or not isinstance(answer, dict):
            continue
        ok = True
        for key, val in value.items():
            options = answer.get(key)
            if key not in answer:
                ok = False
            elif nested:
                ok = any(nested_eq(val, o, True) for o in (options if isinstance(options, list) else [options]))
            else:
                ok = _std(val) in [_std(o) for o in (options if isinstance(options, list) else [options])]
            if not ok:
                break
        if ok and all(k in value or _may_omit(opts) for k, opts in answer.items()):
            return True
    return False


def _may_omit(options: Any) -> bool:
    return "" in options if isinstance(options, (list, str)) else False


def _list_of_dicts_ok(value: Sequence[Any], acceptable: Sequence[Any], nested: bool) -> bool:
    for answer in acceptable:
        seq = _as_list(answer)
        if seq is not None and len(seq) == len(value) and all(
                _dict_ok(v, [a], nested) for v, a in zip(value, seq)):
            return True
    return False


def check_argument(name: str, value: Any, acceptable: Sequence[Any], schema: Mapping[str, Any], *,
                   nested_ground_truth: bool = False) -> tuple[str, str] | None:
    """``None`` when ``value`` passes, else ``(error kind, message)``: the type first, then the value."""
    expected, value = _expected_type(schema.get("type"), value, acceptable)
    alt = _answer_type(acceptable)
    is_variable = alt is not None and alt is not expected
    item_type = _item_type(schema) if expected is list else None
    if type(value) is expected:
        if item_type is not None and not _items_ok(value, acceptable, item_type):
            return WRONG_TYPE, (f"argument {name!r}: items of {value!r} are not all of type "
                                f"{schema['items'].get('type')!r}")
    elif type(value) is alt:
        is_variable = True
    else:
        return WRONG_TYPE, (f"argument {name!r}: expected type {schema.get('type')!r}, "
                            f"got {type(value).__name__} {value!r}")
    if is_variable:
        ok = any(nested_eq(value, a, False) if nested_ground_truth else value == a for a in acceptable)
    elif expected is dict:
        ok = _dict_ok(value, acceptable, nested_ground_truth)
    elif expected is list and item_type is dict:
        ok = _list_of_dicts_ok(value, acceptable, nested_ground_truth)
    elif expected is str:
        ok = standardize_string(value) in [standardize_string(a) for a in acceptable if type(a) is str]
    elif expected is list:
        ok = _list_ok(value, acceptable, nested_ground_truth)
    else:
        ok = any(value == a for a in acceptable)
    if not ok:
        shown = [a for a in acceptable if a != ""]
        return WRONG_VALUE, f"argument {name!r}: {value!r} is not one of {shown!r}"
    return None
