"""A small validator for tool schemas and for tool-call arguments against a tool's JSON-schema ``parameters``.

Why not ``jsonschema``: tool schemas use a tiny subset (object of typed properties, ``required``,
``enum``, ``items``, ``format: date``), and the loaders need each problem as a *kind* they can count
and report per row, not a free-form exception. Integers are accepted where ``number`` is expected;
booleans are never accepted as integers or numbers (``True`` is an ``int`` in Python, not in JSON).

Why check the schemas themselves: they come from user files, and a ``parameters`` given as a string or a
``properties`` given as a list would otherwise crash every later step that reads them (argument checks,
DPO rejections, scoring) far from the row that caused it. ``tool_schema_problems`` turns such a schema into
a ``bad_schema`` problem of its row; the argument checks below also answer ``bad_schema`` instead of raising
when handed a malformed schema directly.

Problems are ``(kind, message)`` pairs, kind one of ``ISSUE_KINDS``.
"""

from __future__ import annotations

import datetime as _dt

from toolsweep.search_spaces.domains import brief_repr

ISSUE_KINDS: tuple[str, ...] = ("unknown_argument", "missing_argument", "wrong_type", "enum_violation",
                                "bad_format", "unknown_tool", "bad_call", "bad_tools", "bad_schema")

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,), "null": (type(None),),
}
_EXAMPLE = '{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}'


_JSON_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list",
               dict: "an object", type(None): "null"}


def json_kind(value: object) -> str:
    """``a string``, ``an integer``, ``null``...: what a decoded JSON value is, in JSON's words."""
    return _JSON_NAMES.get(type(value), f"a {type(value).__name__}")


def _got(value: object) -> str:
    """``a string 'city: str'``: the JSON type and a short echo of a malformed value (never all of a huge one)."""
    return "null" if value is None else f"{json_kind(value)} {brief_repr(value, 60)}"


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_type_spec(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(name, str) for name in value))


def property_schema_problem(schema: object, where: str, deep: bool = True) -> str | None:
    """What is wrong with one property schema (``{"type": "string", "enum": [...]}``), or None.

    ``deep``: nested ``items`` and ``properties`` are checked too (once per tool, by ``tool_schema_problems``);
    without it only what ``check_value`` reads at this level, so checking many calls against one large schema
    stays linear. ``where`` names the property in the message."""
    if not isinstance(schema, dict):
        return f"{where} should be a schema object like {{\"type\": \"string\"}}, got {_got(schema)}"
    if "type" in schema and not _is_type_spec(schema["type"]):
        return f"{where}: 'type' should be a type name or a list of names, got {_got(schema['type'])}"
    if "enum" in schema and not (isinstance(schema["enum"], list) and schema["enum"]):
        return f"{where}: 'enum' should be a non-empty list of allowed values, got {_got(schema['enum'])}"
    items = schema.get("items")
    if not deep:
        return None if items is None or isinstance(items, (dict, list)) else property_schema_problem(items, f"{where}.items")
    for i, item in enumerate(items if isinstance(items, list) else [items] if items is not None else []):
        problem = property_schema_problem(item, f"{where}.items" + (f"[{i}]" if isinstance(items, list) else ""))
        if problem:
            return problem
    if "properties" in schema or "required" in schema:
        return _object_problem(schema, where)
    return None


def _object_problem(schema: dict, where: str, deep: bool = True) -> str | None:
    """An object schema's ``properties`` (name -> schema) and ``required`` (names among them); without ``deep``
    the property schemas themselves are left to ``check_value``, which checks the ones an argument uses."""
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        return f"{where}: 'properties' should map each argument name to its schema, got {_got(properties)}"
    for name, prop in properties.items() if deep else ():
        problem = property_schema_problem(prop, f"{where}.properties.{name}")
        if problem:
            return problem
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        return f"{where}: 'required' should be a list of argument names, got {_got(required)}"
    missing = [name for name in required if name not in properties]
    if missing:
        return f"{where}: 'required' names {missing[0]!r}, which is not in 'properties'; add it there or drop it"
    return None


def tool_schema_problems(tools: list[dict]) -> list[tuple[str, str]]:
    """``bad_schema`` problems of the offered tools' ``parameters`` (empty when every schema can be used)."""
    issues = []
    for tool in tools:
        function = tool.get("function", tool) if isinstance(tool, dict) else {}
        name = function.get("name", "?") if isinstance(function, dict) else "?"
        parameters = function.get("parameters") if isinstance(function, dict) else None
        if parameters is None:
            continue  # no parameters: the tool takes no arguments
        if not isinstance(parameters, dict):
            problem: str | None = (f"tool {name!r}: 'parameters' should be a JSON-schema object like {_EXAMPLE}, "
                                   f"got {_got(parameters)}")
        else:
            problem = _object_problem(parameters, f"tool {name!r} parameters")
        if problem:
            issues.append(("bad_schema", problem))
    return issues


def type_matches(value: object, schema_type: str | list[str]) -> bool:
    """Whether ``value`` has JSON type ``schema_type`` (a name or a list of names; unknown names match)."""
    names = schema_type if isinstance(schema_type, list) else [schema_type]
    for name in names:
        if not isinstance(name, str) or name not in _PY_TYPES:
            return True
        if isinstance(value, bool) and name in ("integer", "number"):
            continue
        if name == "integer" and isinstance(value, float):
            continue
        if isinstance(value, _PY_TYPES[name]):
            return True
    return False


def check_value(name: str, value: object, schema: dict) -> list[tuple[str, str]]:
    """Problems with one argument value against its property schema (``bad_schema`` if the schema is malformed)."""
    problem = property_schema_problem(schema, f"schema of argument {name!r}", deep=False)
    if problem:
        return [("bad_schema", problem)]
    expected = schema.get("type")
    if expected is not None and not type_matches(value, expected):
        message = f"argument {name!r} should be {expected}, got {type(value).__name__} {brief_repr(value, 80)}"
        return [("wrong_type", message)]
    if "enum" in schema and value not in schema["enum"]:
        message = f"argument {name!r} is {brief_repr(value, 80)}, not one of {brief_repr(schema['enum'], 120)}"
        return [("enum_violation", message)]
    if schema.get("format") == "date" and isinstance(value, str):
        try:
            _dt.date.fromisoformat(value)
        except ValueError:
            return [("bad_format", f"argument {name!r} is {brief_repr(value, 80)}, not a YYYY-MM-DD date")]
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        issues: list[tuple[str, str]] = []
        for i, item in enumerate(value):
            issues.extend(check_value(f"{name}[{i}]", item, schema["items"]))
        return issues
    return []


def validate_arguments(arguments: object, parameters: dict) -> list[tuple[str, str]]:
    """All problems of ``arguments`` against a tool's ``parameters`` schema; empty when valid."""
    problem = (_object_problem(parameters, "tool parameters", deep=False) if isinstance(parameters, dict)
               else f"tool parameters should be a JSON-schema object like {_EXAMPLE}, got {_got(parameters)}")
    if problem:
        return [("bad_schema", problem)]
    if not isinstance(arguments, dict):
        return [("wrong_type", f"arguments should be an object, got {type(arguments).__name__}")]
    properties = parameters.get("properties", {})
    issues: list[tuple[str, str]] = []
    for name in arguments:
        if name not in properties:
            known = _clip(", ".join(properties) or "none")
            issues.append(("unknown_argument", f"argument {brief_repr(name, 80)} is not in the schema (known: {known})"))
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
            raise TypeError(f"tool {brief_repr(tool, 120)} has no function name; expected "
                            '{"type": "function", "function": {"name": ..., "parameters": ...}}')
        out[function["name"]] = function
    return out


def validate_call(call: object, tools: list[dict], offered: dict[str, dict] | None = None) -> list[tuple[str, str]]:
    """Problems of one ``tool_calls`` entry (contract shape) against the offered ``tools``. Checking many calls
    against the same tools, pass ``offered=tools_by_name(tools)`` so it is built once, not once per call."""
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        expected = "{'type': 'function', 'function': {'name', 'arguments'}}"
        return [("bad_call", f"tool call {brief_repr(call, 120)} is not {expected}")]
    try:
        offered = tools_by_name(tools) if offered is None else offered
    except TypeError as exc:
        return [("bad_tools", str(exc))]
    if function["name"] not in offered:
        names = _clip(", ".join(offered) or "none")
        return [("unknown_tool", f"call to {brief_repr(function['name'], 80)}, which is not offered (offered: {names})")]
    spec = offered[function["name"]].get("parameters")
    return validate_arguments(function.get("arguments"), spec if spec is not None else {"type": "object"})
