"""DPO preference pairs: the correct assistant turn against a realistic failure.

Why realistic failures rather than random noise: DPO learns from the *difference* between chosen
and rejected, so each rejection differs from the correct answer in exactly one way that small
models actually get wrong (a confusable tool, a dropped or invented argument, a string where an
integer belongs, a call where none was asked for, ...). The kind is recorded in ``rejection_kind``.
Half of the ``wrong_value`` rejections of a string copied from the request are near misses of that copy
(a word short, a word too far, a word too early): the errors a small model that copies makes.

Replacement values come from the same param name in the other examples given (so they stay
in-split and plausible), then from the bundled value pools, then from a typed default.
"""

from __future__ import annotations

import copy
import json
import random

from toolsweep.config.vocabulary import REJECTION_KINDS
from toolsweep.data.catalogue import confusables_of, tool_entry, tool_name
from toolsweep.data.generator import normalise_weights
from toolsweep.data.templates import REFUSALS, clarifying_question, draw_value
from toolsweep.data.tool_validation import check_value, tools_by_name
from toolsweep.data.values import value_split

_INVENTED = (("verbose", True), ("priority", "high"), ("user_id", "me"), ("timezone", "UTC"),
             ("format", "json"), ("confirm", True), ("max_results", 5), ("notes", "asap"))


def make_preference_pairs(examples: list[dict], kinds: dict[str, float] | list[str] | None = None,
                          seed: int = 0, tools_pool: list[dict] | None = None) -> list[dict]:
    """One preference pair per example whose rejection kind could be applied, in input order.

    For each example the kind is drawn by ``kinds`` weights among the kinds that *apply* to it
    (e.g. ``spurious_call`` only to irrelevance examples, ``missing_argument`` only when a call
    has a required argument); examples to which no positively weighted kind applies are skipped.
    ``tools_pool`` supplies a confusable tool for ``wrong_tool`` when the example offers only one;
    that tool is then added to the pair's ``tools``.
    """
    weights = normalise_weights(kinds or list(REJECTION_KINDS), REJECTION_KINDS, "rejection kind")
    observed = _observed_values(examples)
    pairs = []
    for index, example in enumerate(examples):
        rng = random.Random(f"{seed}|pref|{index}|{example.get('id', '')}")
        candidates = [k for k in weights if _applies(k, example, tools_pool)]
        if not candidates:
            continue
        kind = rng.choices(candidates, weights=[weights[k] for k in candidates])[0]
        tools = copy.deepcopy(example["tools"])
        rejected = _REJECTORS[kind](example, tools, rng, observed, tools_pool)
        pairs.append({"id": f"{example.get('id', index)}-{kind}", "category": example.get("category", ""),
                      "tools": tools, "prompt": copy.deepcopy(example["messages"][:-1]),
                      "chosen": [copy.deepcopy(example["messages"][-1])], "rejected": [rejected],
                      "rejection_kind": kind})
    return pairs


def _calls(example: dict) -> list[dict]:
    return example["messages"][-1].get("tool_calls") or []


def _schema(tools: list[dict], name: str) -> dict:
    return tools_by_name(tools)[name].get("parameters") or {"properties": {}, "required": []}


def _observed_values(examples: list[dict]) -> dict[str, list]:
    observed: dict[str, list] = {}
    for example in examples:
        for call in _calls(example):
            for name, value in call["function"]["arguments"].items():
                bucket = observed.setdefault(name, [])
                if value not in bucket:
                    bucket.append(value)
    return observed


def _wrong_tool_candidates(example: dict, tools_pool: list[dict] | None) -> tuple[list[str], list[dict]]:
    """Offered alternatives (confusable first), else confusable/any tools from ``tools_pool`` to add."""
    calls = _calls(example)
    if not calls:
        return [], []
    called = calls[0]["function"]["name"]
    offered = [tool_name(t) for t in example["tools"] if tool_name(t) != called]
    close = set(confusables_of(called)) if _bundled(called) else set()
    offered.sort(key=lambda name: name not in close)
    if offered:
        return offered, []
    pool = [t for t in tools_pool or [] if tool_name(t) != called]
    pool.sort(key=lambda t: tool_name(t) not in close)
    return [], pool[:3]


def _bundled(name: str) -> bool:
    try:
        tool_entry(name)
    except KeyError:
        return False
    return True


def _applies(kind: str, example: dict, tools_pool: list[dict] | None) -> bool:
    calls = _calls(example)
    if kind == "spurious_call":
        return not calls and bool(example["tools"])
    if kind == "invented_value":
        intended = example.get("clarify") or {}
        return intended.get("tool") in {tool_name(t) for t in example["tools"]}
    if not calls:
        return False
    if kind == "wrong_tool":
        return any(_wrong_tool_candidates(example, tools_pool))
    if kind == "missing_argument":
        return any(set(_schema(example["tools"], c["function"]["name"]).get("required", []))
                   & set(c["function"]["arguments"]) for c in calls)
    if kind in ("wrong_type", "wrong_value", "asked_needlessly"):
        return any(c["function"]["arguments"] for c in calls)
    return True


def _plausible(name: str, schema: dict, tool: str, rng: random.Random, observed: dict, avoid: object = None):
    """A plausible value for parameter ``name`` different from ``avoid``."""
    options = [v for v in observed.get(name, []) if v != avoid and _same_split(v, avoid)
               and not check_value(name, v, schema)]
    if options:
        return rng.choice(options)
    if _bundled(tool):
        try:
            spec = tool_entry(tool).param(name)
            split = value_split(avoid) if isinstance(avoid, (str, int, float)) else None
            for _ in range(20):
                value = draw_value(spec, rng, split or "train", set())
                if value != avoid:
                    return value
        except KeyError:
            pass
    if "enum" in schema:
        others = [v for v in schema["enum"] if v != avoid]
        return rng.choice(others or schema["enum"])
    kind = schema.get("type")
    defaults = {"integer": (avoid or 0) + rng.randint(1, 3) if isinstance(avoid, int) else 1,
                "number": round((avoid or 0) * 1.5 + 1, 2) if isinstance(avoid, (int, float)) else 1.5,
                "boolean": not avoid if isinstance(avoid, bool) else True, "array": [],
                "object": {}}
    if kind in defaults:
        return defaults[kind]
    return f"{avoid} (copy)" if isinstance(avoid, str) else "example"


def _same_split(value: object, other: object) -> bool:
    if isinstance(value, (list, dict)) or isinstance(other, (list, dict)) or other is None:
        return True
    return value_split(value) == value_split(other)


def _message(calls: list[dict]) -> dict:
    return {"role": "assistant", "content": "", "tool_calls": calls}


def _pick_call(example: dict, rng: random.Random, accept=lambda call: True) -> tuple[list[dict], dict]:
    calls = copy.deepcopy(_calls(example))
    return calls, rng.choice([c for c in calls if accept(c)])


def _wrong_tool(example, tools, rng, observed, tools_pool):
    offered, extra = _wrong_tool_candidates(example, tools_pool)
    if not offered:
        added = copy.deepcopy(extra[0])
        tools.append(added)
        offered = [tool_name(added)]
    calls = copy.deepcopy(_calls(example))
    old = calls[0]["function"]
    new_name = offered[0] if rng.random() < 0.7 else rng.choice(offered)
    schema = _schema(tools, new_name)
    args = {}
    for name, prop in schema.get("properties", {}).items():
        if name in old["arguments"]:
            args[name] = old["arguments"][name]
        elif name in schema.get("required", []):
            args[name] = _plausible(name, prop, new_name, rng, observed)
    calls[0]["function"] = {"name": new_name, "arguments": args}
    return _message(calls)


def _missing_argument(example, tools, rng, observed, tools_pool):
    def has_required(call):
        return set(_schema(tools, call["function"]["name"]).get("required", [])) & set(call["function"]["arguments"])

    calls, call = _pick_call(example, rng, has_required)
    args = call["function"]["arguments"]
    required = [n for n in _schema(tools, call["function"]["name"]).get("required", []) if n in args]
    del args[rng.choice(required)]
    return _message(calls)


def _retype(value: object) -> object:
    """The same value in a JSON type a sloppy model would emit instead."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return [value]


def _wrong_type(example, tools, rng, observed, tools_pool):
    calls, call = _pick_call(example, rng, lambda c: bool(c["function"]["arguments"]))
    args = call["function"]["arguments"]
    name = rng.choice(list(args))
    args[name] = _retype(args[name])
    return _message(calls)


def _wrong_value(example, tools, rng, observed, tools_pool):
    calls, call = _pick_call(example, rng, lambda c: bool(c["function"]["arguments"]))
    args = call["function"]["arguments"]
    name = rng.choice(list(args))
    prop = _schema(tools, call["function"]["name"]).get("properties", {}).get(name, {})
    if isinstance(args[name], list) and args[name]:
        items = list(args[name])
        seen = [x for v in observed.get(name, []) if isinstance(v, list) for x in v
                if x not in items and _same_split(x, items[0])]
        if seen:
            items[rng.randrange(len(items))] = rng.choice(seen)
        replacement = items if items != args[name] else items[:-1] or items + items
    else:
        near = _near_miss(args[name], _request(example), rng) if rng.random() < 0.5 else None
        if near is not None and check_value(name, near, prop):  # keep the schema valid: only the value is wrong
            near = None
        replacement = near or _plausible(name, prop, call["function"]["name"], rng, observed, args[name])
    args[name] = replacement
    return _message(calls)


def _request(example: dict) -> str:
    users = [m.get("content") or "" for m in example["messages"] if m["role"] == "user"]
    return users[-1] if users else ""


def _near_miss(value: object, request: str, rng: random.Random) -> str | None:
    """A copy of a string value that went wrong the way a small model's copy goes wrong: stopped a word (or
    half a word) early, ran on into the next word of the request, or started a word too early."""
    if not isinstance(value, str) or not value or value not in request:
        return None
    words = value.split()
    options = [" ".join(words[:-1])] if len(words) > 1 else [value[: len(value) // 2]] if len(value) > 3 else []
    start = request.index(value)
    after = request[start + len(value):].split()
    before = request[:start].split()
    if after and after[0].strip(".,?!:;'\"()"):
        options.append(f"{value} {after[0].strip('.,?!:;()')}")
    if before and before[-1].strip(".,?!:;'\"()"):
        options.append(f"{before[-1].strip('.,?!:;()')} {value}")
    options = [o for o in options if o and o != value]
    return rng.choice(options) if options else None


def _invented_argument(example, tools, rng, observed, tools_pool):
    calls, call = _pick_call(example, rng)
    known = set(_schema(tools, call["function"]["name"]).get("properties", {}))
    name, value = rng.choice([item for item in _INVENTED if item[0] not in known])
    call["function"]["arguments"][name] = value
    return _message(calls)


def _malformed_json(example, tools, rng, observed, tools_pool):
    """A ``<tool_call>`` block a parser must reject: a missing brace or tag, single quotes, a trailing comma."""
    blocks = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in _calls(example)]
    broken = rng.randrange(len(blocks))
    texts = []
    for i, block in enumerate(blocks):
        body = json.dumps(block, ensure_ascii=False)
        end = "\n</tool_call>"
        if i == broken:
            style = rng.choice(("truncated", "quotes", "comma", "unclosed"))
            if style == "truncated":
                body = body[:-1]
            elif style == "quotes":
                body = repr(block)
            elif style == "comma":
                body = body[:-2] + ",}}" if body.endswith("}}") else body[:-1] + ",}"
            else:
                body, end = body[:-1], ""
            if style == "quotes" and "'" not in body:
                body = body[:-1]
        texts.append(f"<tool_call>\n{body}{end}")
    return {"role": "assistant", "content": "\n".join(texts)}


def _spurious_call(example, tools, rng, observed, tools_pool):
    name = tool_name(rng.choice(tools))
    schema = _schema(tools, name)
    args = {p: _plausible(p, schema["properties"][p], name, rng, observed) for p in schema.get("required", [])}
    return _message([{"type": "function", "function": {"name": name, "arguments": args}}])


def _invented_value(example, tools, rng, observed, tools_pool):
    """The call a model makes when it guesses the value the request left out instead of asking for it."""
    intended = example["clarify"]
    tool, missing = intended["tool"], intended["missing"]
    prop = _schema(tools, tool).get("properties", {}).get(missing, {})
    args = {**copy.deepcopy(intended.get("arguments") or {}), missing: _plausible(missing, prop, tool, rng, observed)}
    order = list(_schema(tools, tool).get("properties", {}))
    args = dict(sorted(args.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))
    return _message([{"type": "function", "function": {"name": tool, "arguments": args}}])


def _missed_call(example, tools, rng, observed, tools_pool):
    return {"role": "assistant", "content": rng.choice(REFUSALS + ("Sure, I will take care of that.",))}


def _asked_needlessly(example, tools, rng, observed, tools_pool):
    """Asking for a value the request gave. Without this kind, the rows whose right answer is text (no tool
    fits, a value is missing) are the only pairs whose two answers differ in their first token, so DPO learns
    "do not start a call" and then asks where it should call (tiny model: simple requests 0.60 -> 0.05-0.15)."""
    _, picked = _pick_call(example, rng, lambda c: bool(c["function"]["arguments"]))
    call = picked["function"]
    required = [p for p in _schema(tools, call["name"]).get("required", []) if p in call["arguments"]]
    return {"role": "assistant", "content": clarifying_question(rng.choice(required or list(call["arguments"])))}


_REJECTORS = {"wrong_tool": _wrong_tool, "missing_argument": _missing_argument, "wrong_type": _wrong_type,
              "wrong_value": _wrong_value, "invented_argument": _invented_argument, "invented_value": _invented_value,
              "malformed_json": _malformed_json, "spurious_call": _spurious_call, "missed_call": _missed_call,
              "asked_needlessly": _asked_needlessly}
