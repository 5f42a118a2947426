"""Row formats of user data: the contract's messages+tools rows and xLAM rows, to contract examples.

Shape problems raise ``RowProblem(kind, message)``; ``loaders.py`` attaches the file and line.
Schema checks of the call arguments happen afterwards, in ``loaders.parse_row``.

xLAM parameter types are Python-ish strings (``"str"``, ``"int, optional"``, ``"List[int]"``); they
map to JSON-schema types, and a parameter is optional when its type says ``optional`` or it has a
``default``. ``example_to_xlam`` goes the other way (enums and formats have no xLAM spelling and
are dropped), so xLAM -> example -> xLAM -> example is stable.

When2Call rows live in ``when2call_format.py``; ``asks_follow_up`` (does a text answer ask for missing
information?) is here because messages rows without a category use it too.
"""

from __future__ import annotations

import json
import re

from toolsweep.config.vocabulary import ROW_FORMATS, TOOL_CALL_CATEGORIES

FORMATS: tuple[str, ...] = ("auto", *ROW_FORMATS)
"""The row formats a loader reads; ``auto`` tells them apart by each row's keys."""
_ROLES = ("system", "user", "assistant", "tool")
_XLAM_TYPES = {"str": "string", "string": "string", "int": "integer", "integer": "integer",
               "float": "number", "number": "number", "bool": "boolean", "boolean": "boolean",
               "list": "array", "array": "array", "tuple": "array", "dict": "object", "object": "object"}
_SCHEMA_TO_XLAM = {"string": "str", "integer": "int", "number": "float", "boolean": "bool",
                   "array": "list", "object": "dict"}
_OPTIONAL = re.compile(r"^optional\[(.*)\]$|^(.*?),\s*optional$", re.IGNORECASE)


MAX_DEPTH = 100
"""Rows (and JSON strings inside them) nested deeper than this are rejected: real tool rows nest a few levels,
and every later step (argument checks, chat templates, pickling to Ray workers) recurses through them."""

TOO_MANY_DIGITS = "a number longer than Python reads, 4300 digits; write it as a string"
"""Why ``json.loads`` raises a plain ValueError: the only one it raises besides JSONDecodeError."""


class RowProblem(Exception):
    """A row that cannot become a valid example; ``kind`` is counted in the load report."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def nesting_exceeds(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists/objects more than ``limit`` deep (iterative, so a deep value cannot overflow it)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def decode_json(text: str, what: str, kind: str) -> object:
    """The JSON value of ``text`` (a JSON string inside a row: tools, arguments, a call), or a RowProblem of
    ``kind`` that says ``what`` is not valid JSON. Too deep a value and integers of more than 4300 digits
    (which Python refuses to read) are problems too, never an exception of another type."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowProblem(kind, f"{what} is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise RowProblem("too_deep", f"{what} nests more than {MAX_DEPTH} levels deep; flatten it") from None
    except ValueError:
        raise RowProblem(kind, f"{what} is not valid JSON ({TOO_MANY_DIGITS})") from None
    if nesting_exceeds(value):
        raise RowProblem("too_deep", f"{what} nests more than {MAX_DEPTH} levels deep; flatten it")
    return value


def decode_field(row: dict, field: str, expected: type) -> object:
    """``row[field]`` as ``expected`` (a JSON string is decoded first, as xLAM and When2Call store tools)."""
    if field not in row:
        raise RowProblem("missing_field", f"missing field {field!r}")
    value = row[field]
    if isinstance(value, str) and expected is not str:
        value = decode_json(value, f"field {field!r} (a string)", "invalid_json")
    if not isinstance(value, expected):
        raise RowProblem("bad_tools" if field == "tools" else "missing_field",
                         f"field {field!r} should be a {expected.__name__}, got {type(value).__name__}")
    return value


def xlam_type_to_schema(type_text: str) -> tuple[dict, bool]:
    """``"List[int], optional"`` -> ``({"type": "array", "items": {"type": "integer"}}, optional=True)``."""
    text = type_text.strip()
    optional = False
    match = _OPTIONAL.match(text)
    if match:
        text, optional = (match.group(1) or match.group(2)).strip(), True
    base, _, inner = text.partition("[")
    kind = _XLAM_TYPES.get(base.strip().lower())
    if kind is None:
        return {}, optional
    schema: dict = {"type": kind}
    if kind == "array" and inner:
        item_kind = _XLAM_TYPES.get(inner.rstrip("]").split(",")[0].strip().lower())
        if item_kind:
            schema["items"] = {"type": item_kind}
    return schema, optional


def schema_to_xlam_type(schema: dict, required: bool) -> str:
    """The inverse of ``xlam_type_to_schema`` (``"any"`` for schemas without a type)."""
    text = _SCHEMA_TO_XLAM.get(schema.get("type", ""), "any")
    if text == "list" and isinstance(schema.get("items"), dict) and schema["items"].get("type") in _SCHEMA_TO_XLAM:
        text = f"List[{_SCHEMA_TO_XLAM[schema['items']['type']]}]"
    return text if required else f"{text}, optional"


def xlam_tool_to_spec(tool: object) -> dict:
    """An xLAM tool ``{name, description, parameters: {p: {type, description, default?}}}`` as an OpenAI spec."""
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise RowProblem("bad_tools", f"xLAM tool {tool!r} has no 'name'")
    params = tool.get("parameters") or {}
    if not isinstance(params, dict):
        raise RowProblem("bad_tools", f"parameters of xLAM tool {tool['name']!r} should be an object")
    if params.get("type") == "object" and isinstance(params.get("properties"), dict):
        parameters = params  # already JSON schema (some xLAM-style sets use it)
    else:
        properties, required = {}, []
        for name, spec in params.items():
            if not isinstance(spec, dict):
                raise RowProblem("bad_tools", f"parameter {name!r} of {tool['name']!r} should be an object")
            schema, optional = xlam_type_to_schema(str(spec.get("type", "")))
            if spec.get("description"):
                schema["description"] = spec["description"]
            if "default" in spec:
                schema["default"] = spec["default"]
            properties[name] = schema
            if not optional and "default" not in spec:
                required.append(name)
        parameters = {"type": "object", "properties": properties, "required": required}
    return {"type": "function", "function": {"name": tool["name"], "description": tool.get("description", ""),
                                             "parameters": parameters}}


def spec_to_xlam_tool(spec: dict) -> dict:
    """An OpenAI spec as an xLAM tool (types as xLAM strings; enums and formats dropped)."""
    function = spec["function"]
    parameters = function.get("parameters") or {}
    required = set(parameters.get("required", []))
    params = {}
    for name, schema in parameters.get("properties", {}).items():
        entry = {"type": schema_to_xlam_type(schema, name in required or "default" in schema)}
        if schema.get("description"):
            entry["description"] = schema["description"]
        if "default" in schema:
            entry["default"] = schema["default"]
        params[name] = entry
    return {"name": function["name"], "description": function.get("description", ""), "parameters": params}


def infer_category(tools: list[dict], assistant: dict) -> str:
    """simple / multiple / parallel from the number of calls and tools offered; without a call, clarify when the
    answer asks for missing information, else irrelevance."""
    calls = assistant.get("tool_calls") or []
    if not calls:
        return "clarify" if asks_follow_up(assistant.get("content") or "") else "irrelevance"
    if len(calls) > 1:
        return "parallel"
    return "multiple" if len(tools) >= 3 else "simple"


def normalise_call(call: object) -> dict:
    """Accept ``{"name", "arguments"}`` or the contract's ``{"type", "function": {...}}``; arguments may be a JSON string."""
    if isinstance(call, dict) and "function" in call:
        call = call["function"]
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        raise RowProblem("bad_call", f"tool call {call!r} has no function name")
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):
        arguments = decode_json(arguments, f"the arguments string of {call['name']!r}", "bad_call") if arguments.strip() else {}
    return {"type": "function", "function": {"name": call["name"], "arguments": arguments}}


def from_xlam_row(row: dict, default_id: str) -> dict:
    """An xLAM row as a contract example (no answers -> an irrelevance example with a short refusal)."""
    query = decode_field(row, "query", str)
    tools = [xlam_tool_to_spec(t) for t in decode_field(row, "tools", list)]
    calls = [normalise_call(a) for a in decode_field(row, "answers", list)]
    assistant = ({"role": "assistant", "content": "", "tool_calls": calls} if calls
                 else {"role": "assistant", "content": "Sorry, none of the available tools can do that."})
    example_id = f"xlam-{row['id']}" if "id" in row else default_id
    return {"id": example_id, "category": infer_category(tools, assistant), "tools": tools,
            "messages": [{"role": "user", "content": query}, assistant]}


def example_to_xlam(example: dict) -> dict:
    """A contract example (single user turn) as an xLAM row with JSON-string ``tools`` and ``answers``."""
    user = next(m["content"] for m in example["messages"] if m["role"] == "user")
    answers = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
               for c in example["messages"][-1].get("tool_calls", [])]
    return {"query": user, "tools": json.dumps([spec_to_xlam_tool(t) for t in example["tools"]]),
            "answers": json.dumps(answers)}


def normalise_messages_row(row: dict, default_id: str) -> dict:
    """Check a contract-format row's shape and normalise calls (JSON-string arguments are decoded)."""
    messages = decode_field(row, "messages", list)
    tools = decode_field(row, "tools", list)
    for tool in tools:
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise RowProblem("bad_tools", f"tool {tool!r} is not {{'type': 'function', 'function': {{'name', ...}}}}")
    tools = [t if "function" in t else {"type": "function", "function": t} for t in tools]
    if not messages or not all(isinstance(m, dict) and m.get("role") in _ROLES for m in messages):
        raise RowProblem("bad_messages", f"every message needs a role in {_ROLES}")
    if messages[-1]["role"] != "assistant" or not any(m["role"] == "user" for m in messages):
        raise RowProblem("bad_messages", "messages need a user turn and must end with the assistant turn")
    out = []
    for message in messages:
        message = dict(message)
        if "tool_calls" in message:
            if not isinstance(message["tool_calls"], list):
                raise RowProblem("bad_call", "'tool_calls' should be a list")
            message["tool_calls"] = [normalise_call(c) for c in message["tool_calls"]]
            if message.get("content") is None:  # OpenAI exports use null content beside tool calls
                message["content"] = ""
            elif not isinstance(message["content"], str):
                raise RowProblem("bad_messages", f"{message['role']} message: 'content' should be text or null, "
                                                 f"got {type(message['content']).__name__}")
        elif not isinstance(message.get("content"), str):
            raise RowProblem("bad_messages", f"{message['role']} message has no text 'content' and no 'tool_calls'")
        out.append(message)
    category = row.get("category")
    answer = out[-1]
    if category not in TOOL_CALL_CATEGORIES or (
            category == "clarify" and answer.get("tool_calls")):
        category = infer_category(tools, answer)
    example = {"id": str(row.get("id", default_id)), "category": category, "tools": tools, "messages": out}
    if category == "clarify" and row.get("clarify") is not None:
        example["clarify"] = clarify_record(row["clarify"])  # the intended call, for DPO's invented_value rejection
    return example


def clarify_record(record: object) -> dict:
    """A clarify row's ``clarify`` field, ``{"tool": str, "missing": str, "arguments": {...}?}`` (the call the
    follow-up question is about), checked because DPO's invented_value rejection builds a call from it."""
    if not (isinstance(record, dict) and isinstance(record.get("tool"), str) and isinstance(record.get("missing"), str)
            and isinstance(record.get("arguments", {}), dict)):
        raise RowProblem("bad_clarify", "field 'clarify' should be {\"tool\": name, \"missing\": argument name, "
                                        "\"arguments\": {the given ones}}, or be left out")
    return record


# --- When2Call -------------------------------------------------------------------------------------------------

_ASKS = re.compile(r"\?|\b(I need|I'll need|I will need|I'd need|I would need|"
                   r"please (provide|specify|tell|share|confirm|let me know))\b", re.IGNORECASE)
_REFUSES = re.compile(r"\b(unable|can't|cannot|can not|not able|sorry|apologi[sz]e|apologies|"
                      r"don't have|do not have)\b", re.IGNORECASE)


def asks_follow_up(text: str) -> bool:
    """Whether a plain-text answer asks for missing information (When2Call's ``request_for_info``)."""
    return bool(_ASKS.search(text)) and ("?" in text or not _REFUSES.search(text))
