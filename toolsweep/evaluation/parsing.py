"""Extract tool calls from generated text.

Parsing is kept apart from scoring (lm-evaluation-harness' filter/metric split): this module only
turns text into typed :class:`ParsedOutput` records and never judges whether a call is right.

The format is the Hermes/Qwen one fixed by ``docs/data_contract.md``::

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Lyon"}}
    </tool_call>

Several blocks are parallel calls, in order. A block may also hold a JSON list of such objects (the
``smollm2`` template's form, ``model.chat_template``): its items are the calls, and ``[]`` is no call.
Model output is data: JSON is read with :mod:`json`
only, never ``eval``/``exec``. The JSON inside a block is read with a JSON decoder *before* looking
for the closing tag, so a string argument that itself contains ``</tool_call>`` cannot cut a block
short.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"

# Reasons a block is malformed; the first one met is `ParsedOutput.malformed_reason`.
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_NAME = "missing_name"
ARGUMENTS_NOT_OBJECT = "arguments_not_object"
TEXT_IN_BLOCK = "text_in_block"
UNTERMINATED_BLOCK = "unterminated_block"

_DECODER = json.JSONDecoder()
_WS = " \t\n\r"


@dataclass(frozen=True)
class ToolCall:
    """One function call: a name and a JSON object of arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``{"name", "arguments"}`` form written inside a ``<tool_call>`` block."""
        return {"name": self.name, "arguments": self.arguments}


@dataclass
class ParsedOutput:
    """What a completion contained: calls in order, whether any block was broken, and the rest.

    ``calls`` holds every block that parsed, even when another block was malformed, so that
    argument-level metrics still see the good calls; ``malformed`` makes the example fail anyway.
    """

    calls: list[ToolCall]
    malformed: bool = False
    malformed_reason: str | None = None
    errors: list[str] = field(default_factory=list)
    content: str = ""
    n_blocks: int = 0

    @property
    def well_formed(self) -> bool:
        return not self.malformed

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": [c.to_dict() for c in self.calls],
            "malformed": self.malformed,
            "malformed_reason": self.malformed_reason,
            "errors": list(self.errors),
            "content": self.content,
        }


def render_call(call: ToolCall) -> str:
    """Render one call exactly as the built-in chat template does (``tojson`` = ``json.dumps``)."""
    body = json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)
    return f"{TOOL_CALL_OPEN}\n{body}\n{TOOL_CALL_CLOSE}"


def render_calls(calls: list[ToolCall]) -> str:
    """Render parallel calls, one block per call, separated by a newline."""
    return "\n".join(render_call(c) for c in calls)


def _skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    return i


def _call_from_object(obj: Any) -> tuple[ToolCall | None, str | None, str | None]:
    """Validate a decoded block body; returns (call, reason, message)."""
    if not isinstance(obj, dict):
        return None, NOT_AN_OBJECT, f"block holds a JSON {type(obj).__name__}, not an object"
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None, MISSING_NAME, "block has no non-empty string 'name'"
    # A call without "arguments" is a call with no arguments; transformers' templates always
    # render the key, but zero-argument functions written by hand often omit it.
    arguments = obj.get("arguments", {})
    if not isinstance(arguments, dict):
        return None, ARGUMENTS_NOT_OBJECT, f"'arguments' of {name!r} is a {type(arguments).__name__}"
    return ToolCall(name=name, arguments=arguments), None, None


def parse_tool_calls(text: str) -> ParsedOutput:
    """Parse Hermes ``<tool_call>`` blocks out of ``text``; never raises on any string.

    An unterminated *final* block (generation hit EOS or the token limit right after the JSON)
    counts when its JSON object is complete; otherwise it is malformed (``unterminated_block``).
    """
    calls: list[ToolCall] = []
    errors: list[str] = []
    reasons: list[str] = []
    content_parts: list[str] = []
    n_blocks = 0
    pos = 0
    n = len(text)

    def fail(reason: str, message: str) -> None:
        reasons.append(reason)
        errors.append(f"block {n_blocks}: {reason}: {message}")

    while pos < n:
        start = text.find(TOOL_CALL_OPEN, pos)
        if start < 0:
            content_parts.append(text[pos:])
            break
        content_parts.append(text[pos:start])
        n_blocks += 1
        body_start = start + len(TOOL_CALL_OPEN)
        json_start = _skip_ws(text, body_start)
        try:
            obj, json_end = _DECODER.raw_decode(text, json_start)
        except (ValueError, RecursionError):  # JSONDecodeError, int too long, nesting too deep
            obj, json_end = None, -1
        if json_end >= 0:
            after = _skip_ws(text, json_end)
            if text.startswith(TOOL_CALL_CLOSE, after) or after == n:
                # A list is SmolLM2's form: every item a call, and [] "no call is needed".
                for item in obj if isinstance(obj, list) else [obj]:
                    call, reason, message = _call_from_object(item)
                    if call is not None:
                        calls.append(call)
                    else:
                        fail(reason or INVALID_JSON, message or "")
                pos = after + len(TOOL_CALL_CLOSE) if after < n else n
                continue
            # JSON followed by other text before the closing tag (or before the next block).
            end = _block_end(text, after)
            fail(TEXT_IN_BLOCK, f"text after the JSON object: {text[after:end][:60]!r}")
            pos = _after_block(text, end)
            continue
        end = _block_end(text, body_start)
        body = text[body_start:end].strip()
        if end == n:  # no closing tag and no later block: generation stopped inside the JSON
            fail(UNTERMINATED_BLOCK, f"block not closed and its JSON is incomplete: {body[:60]!r}")
        else:
            fail(INVALID_JSON, f"not a JSON object: {body[:60]!r}")
        pos = _after_block(text, end)

    return ParsedOutput(
        calls=calls,
        malformed=bool(reasons),
        malformed_reason=reasons[0] if reasons else None,
        errors=errors,
        content="".join(content_parts).strip(),
        n_blocks=n_blocks,
    )


def _block_end(text: str, i: int) -> int:
    """Index where the block containing ``i`` ends: its closing tag, the next block, or EOS."""
    close = text.find(TOOL_CALL_CLOSE, i)
    nxt = text.find(TOOL_CALL_OPEN, i)
    candidates = [c for c in (close, nxt) if c >= 0]
    return min(candidates) if candidates else len(text)


def _after_block(text: str, end: int) -> int:
    return end + len(TOOL_CALL_CLOSE) if text.startswith(TOOL_CALL_CLOSE, end) else end


def parse_with_response_schema(text: str, tokenizer: Any, *, prefix: str = "") -> ParsedOutput | None:
    """Parse with the tokenizer's own response template (transformers ``parse_response``).

    Returns ``None`` when the tokenizer has no response template and TRL's
    ``add_response_schema`` does not recognise its chat template, or when parsing raises: the caller
    then falls back to :func:`parse_tool_calls`. The tokenizer is given a schema in place (that is
    what ``add_response_schema`` does), which is harmless for generation.
    """
    if not hasattr(tokenizer, "parse_response"):
        return None
    if getattr(tokenizer, "response_template", None) is None and getattr(tokenizer, "response_schema", None) is None:
        try:
            from trl.chat_template_utils import add_response_schema

            add_response_schema(tokenizer)
        except Exception:  # noqa: BLE001 - unknown template or old TRL: the Hermes parser is the fallback
            return None
    try:
        message = tokenizer.parse_response(text, prefix=prefix)
    except Exception:  # noqa: BLE001 - model output is data; any parse failure means "use the Hermes parser"
        return None
    if not isinstance(message, dict):
        return None
    calls: list[ToolCall] = []
    errors: list[str] = []
    reasons: list[str] = []
    for i, tc in enumerate(message.get("tool_calls") or []):
        fn = tc.get("function", tc) if isinstance(tc, dict) else tc
        call, reason, msg = _call_from_object(fn)
        if call is None:
            reasons.append(reason or INVALID_JSON)
            errors.append(f"block {i + 1}: {reason}: {msg}")
        else:
            calls.append(call)
    content = message.get("content") or ""
    return ParsedOutput(
        calls=calls,
        malformed=bool(reasons),
        malformed_reason=reasons[0] if reasons else None,
        errors=errors,
        content=content.strip() if isinstance(content, str) else "",
        n_blocks=len(calls) + len(reasons),
    )


def parse_output(text: str, tokenizer: Any | None = None, *, prefix: str = "") -> ParsedOutput:
    """Parse a completion: the tokenizer's response schema when asked and available, else Hermes.

    Text that still contains a ``<tool_call>`` tag is always given to the Hermes parser, which
    reports *why* a block is malformed; response schemas tend to drop broken blocks silently.
    """
    if tokenizer is not None and TOOL_CALL_OPEN not in text:
        parsed = parse_with_response_schema(text, tokenizer, prefix=prefix)
        if parsed is not None:
            return parsed
    return parse_tool_calls(text)
