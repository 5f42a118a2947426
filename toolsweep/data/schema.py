"""A small validator for tool-call arguments against a tool's JSON-schema ``parameters``.

Why not ``jsonschema``: tool schemas use a tiny subset (object of typed properties, ``required``,
``enum``, ``items``, ``format: date``), and the loaders need each problem as a *kind* they can count
and report per row, not a free-form exception. Integers are accepted where ``number`` is expected;
booleans are never accepted as integers or numbers (``True`` is an ``int`` in Python, not in JSON).

Problems are ``(kind, message)`` pairs, kind one of ``ISSUE_KINDS``.
"""

from __future__ import annotations

import datetime as _dt

ISSUE_KINDS: tuple[str, ...] = ("unknown_argument", "missing_argument", "wrong_type", "enum_violation",
                                "bad_format", "unknown_tool", "bad_call")

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,), "null": (type(None),),
}


def type_matches(value: object, schema_type: str | list[str]) -> bool:
    """Whether ``value`` has JSON type ``schema_type`` (a name or a list of names; unknown names match)."""
    names = schema_type if isinstance(schema_type, list) else [schema_type]
    for name in names:
        if name not in _PY_TYPES:
            return True
        if isinstance(value, bool) and name in ("integer", "number"):
            continue
        if name == "integer" and isinstance(value, float):
            continue
        if isinstance(value, _PY_TYPES[name]):
            return True
    return False


def check_value(name: str, value: object, schema: dict) -> list[tuple[str, str]]:
    """Problems with one argument value against its property schema."""
    expected = schema.get("type")
    if expected is not None and not type_matches(value, expected):
        return [("wrong_type", f"argument {name!r} should be {expected}, got {type(value).__name__} {value!r}")]
    if "enum" in schema and value not in schema["enum"]:
        return [("enum_violation", f"argument {name!r} is {value!r}, not one of {schema['enum']}")]
    if schema.get("format") == "date" and isinstance(value, str):
        try:
            _dt.date.fromisoformat(value)
        except ValueError:
            return [("bad_format", f"argument {name!r} is {value!r}, not a YYYY-MM-DD date")]
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        issues: list[tuple[str, str]] = []
        for i, item in enumerate(value):
            issues.extend(check_value(f"{name}[{i}]", item, schema["items"]))
        return issues
    return []


def validate_arguments(arguments: object, parameters: dict) -> list[tuple[str, str]]:
    """All problems of ``arguments`` against a tool's ``parameters`` schema; empty when valid."""
    if not isinstance(arguments, dict):
        return [("wrong_type", f"arguments should be an object, got {type(arguments).__name__}")]
    properties = parameters.get("properties", {})
    issues: list[tuple[str, str]] = []
    for name in arguments:
        if name not in properties:
            known = ", ".join(properties) or "none"
            issues.append(("unknown_argument", f"argument {name!r} is not in the schema (known: {known})"))
    for name in parameters.get("required", []):
        if name not in arguments:
            issues.append(("missing_argument", f"required argument {name!r} is missing"))
    for name, value in arguments.items():
        if name in properties:
            issues.extend(check_value(name, value, properties[name]))
    return issues


def tools_by_name(tools: list[dict]) -> dict[str, dict]:
    """Map function name -> ``function`` dict for OpenAI specs (or bare ``{name, parameters}`` dicts)."""
    out = {}
    for tool in tools:
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise TypeError(f"tool {tool!r} has no function name; expected "
                             '{"type": "function", "function": {"name": ..., "parameters": ...}}')
        out[function["name"]] = function
    return out


def validate_call(call: object, tools: list[dict]) -> list[tuple[str, str]]:
    """Problems of one ``tool_calls`` entry (contract shape) against the offered ``tools``."""
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        expected = "{'type': 'function', 'function': {'name', 'arguments'}}"
        return [("bad_call", f"tool call {call!r} is not {expected}")]
    offered = tools_by_name(tools)
    if function["name"] not in offered:
        names = ", ".join(offered) or "none"
        return [("unknown_tool", f"call to {function['name']!r}, which is not offered (offered: {names})")]
    spec = offered[function["name"]].get("parameters") or {"type": "object", "properties": {}}
    return validate_arguments(function.get("arguments"), spec)
