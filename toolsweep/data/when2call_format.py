"""When2Call rows (NVIDIA's ``nvidia/When2Call``, https://github.com/NVIDIA/When2Call) as contract examples,
DPO pairs and multiple-choice items.

When2Call teaches *when* to call: call a tool, ask a follow-up question, say no tool can help, or (a
distractor, never right) answer directly. Layouts: SFT rows ``{tools, messages}`` with calls written as
``<TOOLCALL>[...]</TOOLCALL>`` text; preference rows ``{tools, messages, chosen_response, rejected_response}``;
test rows ``{uuid, question, correct_answer, answers: {direct, tool_call, request_for_info, cannot_answer},
tools, target_tool?, held_out_param?}`` (see ``from_when2call_row``, ``when2call_pair``, ``when2call_mcq_item``).
"""

from __future__ import annotations

import re

from toolsweep.data.formats import (
    RowProblem,
    asks_follow_up,
    decode_field,
    decode_json,
    infer_category,
    normalise_call,
    normalise_messages_row,
    xlam_tool_to_spec,
    xlam_type_to_schema,
)

WHEN2CALL_KINDS: tuple[str, ...] = ("direct", "tool_call", "request_for_info", "cannot_answer")
"""When2Call's answer kinds, in the order of its ``answers`` objects."""
_KIND_CATEGORY = {"request_for_info": "clarify", "cannot_answer": "irrelevance", "direct": "irrelevance"}
_TAG = re.compile(r"<(/?)TOOLCALL>", re.IGNORECASE)
# A follow-up question asks ("?", "I need ...", "please provide ..."); a refusal that mentions a need does not. On
# the 300 labelled rows of When2Call's llm_judge file all 300 follow-up answers ask, and 1 of 300 refusals does.


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
        tool = decode_json(tool, f"{where} (a string)", "bad_tools")
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
        payload = decode_json(payload, f"{where}: the tool call", "bad_call")
    calls = payload if isinstance(payload, list) else [payload]
    if not calls:
        raise RowProblem("bad_call", f"{where}: the <TOOLCALL> block holds no call")
    return [normalise_call(call) for call in calls]


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
    blocks, rest = _toolcall_blocks(content)
    if not blocks:
        raise RowProblem("bad_call", f"field {where!r}: <TOOLCALL> has no closing </TOOLCALL>")
    calls = [call for block in blocks for call in _w2c_calls(block, f"field {where!r}")]
    return {"role": "assistant", "content": rest.strip(), "tool_calls": calls}


def _toolcall_blocks(content: str) -> tuple[list[str], str]:
    """The text inside each ``<TOOLCALL>...</TOOLCALL>`` (any case; an opening tag closes at the next closing
    tag) and the content without those blocks. One pass over the tags: the regex ``<TOOLCALL>(.*?)</TOOLCALL>``
    took quadratic time on a line of many opening tags and no closing one (a 1 MB line ran for minutes)."""
    blocks, kept, start, cursor = [], [], None, 0
    for tag in _TAG.finditer(content):
        if start is None and not tag.group(1):
            start = tag
        elif start is not None and tag.group(1):
            blocks.append(content[start.end():tag.start()])
            kept.append(content[cursor:start.start()])
            start, cursor = None, tag.end()
    kept.append(content[cursor:])
    return blocks, "".join(kept)


def _kind_of(message: dict) -> str:
    if message.get("tool_calls"):
        return "tool_call"
    return "request_for_info" if asks_follow_up(message["content"]) else "cannot_answer"


def _category(tools: list[dict], message: dict, kind: str) -> str:
    return infer_category(tools, message) if kind == "tool_call" else _KIND_CATEGORY[kind]


def _w2c_tools(row: dict) -> list[dict]:
    return [when2call_tool_to_spec(t, f"tools[{i}]") for i, t in enumerate(decode_field(row, "tools", list))]


def _w2c_id(row: dict, default_id: str) -> str:
    return f"when2call-{row['uuid']}" if row.get("uuid") else str(row.get("id", default_id))


def when2call_mcq_item(row: dict, default_id: str) -> dict:
    """A test (MCQ) row ``{"uuid", "source", "source_id", "question", "correct_answer", "answers": {kind: text},
    "target_tool", "tools": [JSON strings], "orig_tools"?, "orig_question"?, "held_out_param"?}`` (``answers.tool_call``
    is the JSON text ``{"name", "arguments"}``) as ``{id, tools, prompt, choices, correct_answer, source}``."""
    question = decode_field(row, "question", str)
    answers = decode_field(row, "answers", dict)
    correct = decode_field(row, "correct_answer", str)
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
    messages = decode_field(row, "messages", list)
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
