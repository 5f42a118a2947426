"""Row formats of user data: the contract's messages+tools rows and xLAM rows, to contract examples.

Shape problems raise ``RowProblem(kind, message)``; ``loaders.py`` attaches the file and line.
Schema checks of the call arguments happen afterwards, in ``loaders.parse_row``.

xLAM parameter types are Python-ish strings (``"str"``, ``"int, optional"``, ``"List[int]"``); they
map to JSON-schema types, and a parameter is optional when its type says ``optional`` or it has a
``default``. ``example_to_xlam`` goes the other way (enums and formats have no xLAM spelling and
are dropped), so xLAM -> example -> xLAM -> example is stable.

When2Call rows (NVIDIA's ``nvidia/When2Call``; layout in ``from_when2call_row``) teach *when* to call:
call a tool, ask a follow-up question, say no tool can help, or (a distractor, never right) answer directly.
"""

from __future__ import annotations

import json
import re

FORMATS: tuple[str, ...] = ("auto", "messages", "xlam", "when2call")
_ROLES = ("system", "user", "assistant", "tool")
_XLAM_TYPES = {"str": "string", "string": "string", "int": "integer", "integer": "integer",
               "float": "number", "number": "number", "bool": "boolean", "boolean": "boolean",
               "list": "array", "array": "array", "tuple": "array", "dict": "object", "object": "object"}
_SCHEMA_TO_XLAM = {"string": "str", "integer": "int", "number": "float", "boolean": "bool",
                   "array": "list", "object": "dict"}
_OPTIONAL = re.compile(r"^optional\[(.*)\]$|^(.*?),\s*optional$", re.IGNORECASE)


class RowProblem(Exception):
    """A row that cannot become a valid example; ``kind`` is counted in the load report."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def _decode(row: dict, field: str, expected: type) -> object:
    if field not in row:
        raise RowProblem("missing_field", f"missing field {field!r}")
    value = row[field]
    if isinstance(value, str) and expected is not str:
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RowProblem("invalid_json", f"field {field!r} is a string but not valid JSON ({exc.msg})") from exc
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
    """simple / multiple / parallel / irrelevance from the number of calls and tools offered."""
    calls = assistant.get("tool_calls") or []
    if not calls:
        return "irrelevance"
    if len(calls) > 1:
        return "parallel"
    return "multiple" if len(tools) >= 3 else "simple"


def _normalise_call(call: object) -> dict:
    """Accept ``{"name", "arguments"}`` or the contract's ``{"type", "function": {...}}``; arguments may be a JSON string."""
    if isinstance(call, dict) and "function" in call:
        call = call["function"]
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        raise RowProblem("bad_call", f"tool call {call!r} has no function name")
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise RowProblem("bad_call", f"arguments of {call['name']!r} are not valid JSON ({exc.msg})") from exc
    return {"type": "function", "function": {"name": call["name"], "arguments": arguments}}


def from_xlam_row(row: dict, default_id: str) -> dict:
    """An xLAM row as a contract example (no answers -> an irrelevance example with a short refusal)."""
    query = _decode(row, "query", str)
    tools = [xlam_tool_to_spec(t) for t in _decode(row, "tools", list)]
    calls = [_normalise_call(a) for a in _decode(row, "answers", list)]
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
    messages = _decode(row, "messages", list)
    tools = _decode(row, "tools", list)
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
            message["tool_calls"] = [_normalise_call(c) for c in message["tool_calls"]]
            if message.get("content") is None:  # OpenAI exports use null content beside tool calls
                message["content"] = ""
        elif not isinstance(message.get("content"), str):
            raise RowProblem("bad_messages", f"{message['role']} message has no text 'content' and no 'tool_calls'")
        out.append(message)
    category = row.get("category")
    if category not in ("simple", "multiple", "parallel", "irrelevance"):
        category = infer_category(tools, out[-1])
    return {"id": str(row.get("id", default_id)), "category": category, "tools": tools, "messages": out}


# --- When2Call -------------------------------------------------------------------------------------------------
WHEN2CALL_KINDS: tuple[str, ...] = ("direct", "tool_call", "request_for_info", "cannot_answer")
"""When2Call's answer kinds, in the order of its ``answers`` objects."""
_KIND_CATEGORY = {"request_for_info": "clarify", "cannot_answer": "irrelevance", "direct": "irrelevance"}
_TOOLCALL = re.compile(r"<TOOLCALL>(.*?)</TOOLCALL>", re.DOTALL | re.IGNORECASE)
# A follow-up question asks ("?", "I need ...", "please provide ..."); a refusal that mentions a need does not. On
# the 300 labelled rows of When2Call's llm_judge file all 300 follow-up answers ask, and 1 of 300 refusals does.
_ASKS = re.compile(r"\?|\b(I need|I'll need|I will need|I'd need|I would need|"
                   r"please (provide|specify|tell|share|confirm|let me know))\b", re.IGNORECASE)
_REFUSES = re.compile(r"\b(unable|can't|cannot|can not|not able|sorry|apologi[sz]e|apologies|"
                      r"don't have|do not have)\b", re.IGNORECASE)


def asks_follow_up(text: str) -> bool:
    """Whether a plain-text answer asks for missing information (When2Call's ``request_for_info``)."""
    return bool(_ASKS.search(text)) and ("?" in text or not _REFUSES.search(text))


def _w2c_property(spec: object, where: str) -> dict:
    """One When2Call parameter schema (xLAM types like ``"str"``/``"int, optional"`` or BFCL ones like
    ``"dict"``/``"float"``) as JSON schema; nested ``items`` and ``properties`` are converted too."""
    if not isinstance(spec, dict):
        raise RowProblem("bad_tools", f"{where} should be an object, got {type(spec).__name__}")
    kind = spec.get("type")
    schema = xlam_type_to_schema(kind)[0] if isinstance(kind, str) else ({"type": kind} if kind else {})
    for key in ("description", "default", "enum", "format"):
        if spec.get(key) is not None:
            schema[key] = spec[key]
    if isinstance(spec.get("items"), dict):
        schema["items"] = _w2c_property(spec["items"], f"{where}.items")
    if isinstance(spec.get("properties"), dict):
        schema["properties"] = _w2c_properties(spec["properties"], where)
        if isinstance(spec.get("required"), list):
            schema["required"] = list(spec["required"])
    return schema


def _w2c_properties(properties: dict, where: str) -> dict:
    # None entries come from `datasets`, which gives every row's struct the union of all rows' parameter names
    return {k: _w2c_property(v, f"{where}.{k}") for k, v in properties.items() if v is not None}


def when2call_tool_to_spec(tool: object, where: str = "tools") -> dict:
    """A When2Call tool ``{"name", "description", "parameters": {"type": "dict", "properties", "required"}}`` (a
    dict or its JSON string) as an OpenAI spec. ``required`` may sit beside ``parameters`` (the card's train
    examples have it there); without it a parameter is required unless its type says ``optional``."""
    if isinstance(tool, str):
        try:
            tool = json.loads(tool)
        except json.JSONDecodeError as exc:
            raise RowProblem("bad_tools", f"{where} is a string but not valid JSON ({exc.msg})") from exc
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise RowProblem("bad_tools", f"{where} has no 'name': {str(tool)[:80]}")
    params = tool.get("parameters") or {}
    if not isinstance(params, dict):
        raise RowProblem("bad_tools", f"{where}.parameters of {tool['name']!r} should be an object")
    if not isinstance(params.get("properties"), dict):
        return xlam_tool_to_spec(tool)  # flat xLAM parameters {name: {type, description, default?}}
    properties = _w2c_properties(params["properties"], f"{where}.parameters")
    required = params.get("required") if isinstance(params.get("required"), list) else tool.get("required")
    if not isinstance(required, list):
        required = [k for k, v in params["properties"].items() if v and "optional" not in str(v.get("type", ""))]
    return {"type": "function", "function": {"name": tool["name"], "description": tool.get("description") or "",
                                             "parameters": {"type": "object", "properties": properties,
                                                            "required": list(required)}}}


def _w2c_calls(payload: object, where: str) -> list[dict]:
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise RowProblem("bad_call", f"{where}: the tool call is not valid JSON ({exc.msg})") from exc
    calls = payload if isinstance(payload, list) else [payload]
    if not calls:
        raise RowProblem("bad_call", f"{where}: the <TOOLCALL> block holds no call")
    return [_normalise_call(call) for call in calls]


def when2call_message(message: object, where: str) -> dict:
    """An assistant turn with its ``<TOOLCALL>[{"name", "arguments"}, ...]</TOOLCALL>`` block as ``tool_calls``,
    so each model's own chat template renders the call (the card asks to replace the tags per template)."""
    if not isinstance(message, dict) or not isinstance(message.get("content"), str):
        raise RowProblem("bad_messages", f"field {where!r} should be {{'role': 'assistant', 'content': str}}")
    if message.get("role", "assistant") != "assistant":
        raise RowProblem("bad_messages", f"field {where!r} has role {message['role']!r}, expected 'assistant'")
    content = message["content"]
    if "tool_calls" in message or "<toolcall>" not in content.lower():
        return {**message, "role": "assistant"}
    blocks = _TOOLCALL.findall(content)
    if not blocks:
        raise RowProblem("bad_call", f"field {where!r}: <TOOLCALL> has no closing </TOOLCALL>")
    calls = [call for block in blocks for call in _w2c_calls(block, f"field {where!r}")]
    return {"role": "assistant", "content": _TOOLCALL.sub("", content).strip(), "tool_calls": calls}


def _kind_of(message: dict) -> str:
    if message.get("tool_calls"):
        return "tool_call"
    return "request_for_info" if asks_follow_up(message["content"]) else "cannot_answer"


def _category(tools: list[dict], message: dict, kind: str) -> str:
    return infer_category(tools, message) if kind == "tool_call" else _KIND_CATEGORY[kind]


def _w2c_tools(row: dict) -> list[dict]:
    return [when2call_tool_to_spec(t, f"tools[{i}]") for i, t in enumerate(_decode(row, "tools", list))]


def _w2c_id(row: dict, default_id: str) -> str:
    return f"when2call-{row['uuid']}" if row.get("uuid") else str(row.get("id", default_id))


def when2call_mcq_item(row: dict, default_id: str) -> dict:
    """A test (MCQ) row ``{"uuid", "source", "source_id", "question", "correct_answer", "answers": {kind: text},
    "target_tool", "tools": [JSON strings], "orig_tools"?, "orig_question"?, "held_out_param"?}`` (``answers.tool_call``
    is the JSON text ``{"name", "arguments"}``) as ``{id, tools, prompt, choices, correct_answer, source}``."""
    question = _decode(row, "question", str)
    answers = _decode(row, "answers", dict)
    correct = _decode(row, "correct_answer", str)
    unknown = [k for k in [correct, *answers] if k not in WHEN2CALL_KINDS]
    if unknown:
        raise RowProblem("bad_answer", f"field 'correct_answer'/'answers' has kind {unknown[0]!r}; "
                                       f"When2Call kinds are {', '.join(WHEN2CALL_KINDS)}")
    if correct not in answers:
        raise RowProblem("bad_answer", f"field 'answers' has no {correct!r} answer, the correct one")
    choices = {}
    for kind, text in answers.items():
        if kind == "tool_call":
            choices[kind] = {"role": "assistant", "content": "",
                             "tool_calls": _w2c_calls(text, "field 'answers.tool_call'")}
        elif isinstance(text, str):
            choices[kind] = {"role": "assistant", "content": text}
        else:
            raise RowProblem("bad_answer", f"field 'answers.{kind}' should be text, got {type(text).__name__}")
    return {"id": _w2c_id(row, default_id), "tools": _w2c_tools(row),
            "prompt": [{"role": "user", "content": question}], "choices": choices, "correct_answer": correct,
            "source": str(row.get("source") or "")}


def _clarify_field(row: dict, item: dict) -> dict | None:
    """The generator's ``clarify`` record (tool, missing parameter, given arguments) where the row names them."""
    target, missing, call = row.get("target_tool"), row.get("held_out_param"), item["choices"].get("tool_call")
    if not (target and isinstance(missing, str) and call):
        return None
    name = when2call_tool_to_spec(target, "target_tool")["function"]["name"]
    arguments = call["tool_calls"][0]["function"]["arguments"]
    given = {k: v for k, v in arguments.items() if k != missing} if isinstance(arguments, dict) else {}
    return {"tool": name, "missing": missing, "arguments": given}


def from_when2call_row(row: dict, default_id: str) -> dict:
    """Any When2Call row as a contract example (categories: module docstring of ``loaders``). train_sft rows are
    ``{"tools", "messages": [user, assistant]}`` (a call is the text ``<TOOLCALL>[{"name", "arguments"}]</TOOLCALL>``);
    train_pref rows ``{"tools", "messages": [user], "chosen_response", "rejected_response", "chosen_reward"?,
    "rejected_reward"?}`` give their chosen answer; test rows (``when2call_mcq_item``) ``answers[correct_answer]``."""
    if "correct_answer" in row or "answers" in row:
        item = when2call_mcq_item(row, default_id)
        kind = item["correct_answer"]
        answer = item["choices"][kind]
        example = {"id": item["id"], "category": _category(item["tools"], answer, kind), "tools": item["tools"],
                   "messages": [*item["prompt"], answer]}
        clarify = _clarify_field(row, item) if kind == "request_for_info" else None
        return {**example, "clarify": clarify} if clarify else example
    messages = _decode(row, "messages", list)
    if "chosen_response" in row:
        messages = [*messages, when2call_message(row["chosen_response"], "chosen_response")]
    elif messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant":
        messages = [*messages[:-1], when2call_message(messages[-1], f"messages[{len(messages) - 1}]")]
    example = normalise_messages_row({"tools": _w2c_tools(row), "messages": messages}, default_id)
    answer = example["messages"][-1]
    return {**example, "id": _w2c_id(row, default_id),
            "category": _category(example["tools"], answer, _kind_of(answer))}


def when2call_pair(row: dict, default_id: str) -> dict:
    """A train_pref row as a DPO pair (``docs/data_contract.md``); ``rejection_kind`` names the wrong decision in
    the words of ``preferences`` and ``evaluation.scoring``: ``missed_call`` / ``asked_needlessly`` (a call was
    right), ``invented_value`` / ``should_have_asked`` (a question was right: a call guessing the missing value,
    or other text, was rejected), ``spurious_call`` / ``should_have_refused`` (no tool fits: likewise)."""
    for field in [f for f in ("chosen_response", "rejected_response") if f not in row]:
        raise RowProblem("missing_field", f"missing field {field!r} (train_pref rows pair a chosen and a rejected "
                                          "answer; load train_sft and test rows with load_jsonl)")
    example = from_when2call_row(row, default_id)
    chosen = example["messages"][-1]
    rejected = when2call_message(row["rejected_response"], "rejected_response")
    rows = {"tools": example["tools"], "messages": [*example["messages"][:-1], rejected]}
    rejected = normalise_messages_row(rows, default_id)["messages"][-1]
    if rejected == chosen:
        raise RowProblem("bad_answer", "fields 'chosen_response' and 'rejected_response' are the same answer")
    good, bad = _kind_of(chosen), _kind_of(rejected)
    if good == "tool_call":
        kind = "asked_needlessly" if bad == "request_for_info" else "missed_call"
    elif good == "request_for_info":
        kind = "invented_value" if bad == "tool_call" else "should_have_asked"
    else:
        kind = "spurious_call" if bad == "tool_call" else "should_have_refused"
    return {"id": example["id"], "category": example["category"], "tools": example["tools"],
            "prompt": example["messages"][:-1], "chosen": [chosen], "rejected": [rejected], "rejection_kind": kind}
