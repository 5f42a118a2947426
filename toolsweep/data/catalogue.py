"""The bundled target catalogue: the tools a sweep fine-tunes for, with the templates that phrase requests.

Tools are returned as OpenAI function specs (plain dicts, fresh copies on every call), so callers
may mutate them. The phrasing templates and value specs that the generator needs stay here, keyed
by tool name, and are not part of the spec a model sees.

The built-in base model is pretrained on procedurally generated tools (``procedural.py``), never on this
catalogue, so a sweep's SFT/DPO on it measurably lifts the base's accuracy.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re

from toolsweep.data import _target_catalogue
from toolsweep.data.values import POOLS, SPLITS

CATALOGUES: tuple[str, ...] = ("target",)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_BOOL_SEGMENT = re.compile(r"^\?(\w+):([^|]*)\|(.*)$")
_TEMPLATE_SPLIT = ("train", "train", "train", "validation", "test")
PHRASINGS: tuple[str, ...] = ("seen", "unseen")
"""``seen``: the phrasing templates training draws from; ``unseen``: the held-out ones."""


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """How to draw and type one parameter. ``kind``: pool | int | num | enum | bool | list."""

    name: str
    kind: str
    required: bool
    pool: str = ""
    low: float = 0
    high: float = 0
    options: tuple[str, ...] = ()

    def schema(self) -> dict:
        """The JSON-schema fragment for this parameter.

        Kept short because prompt tokens dominate training cost: a description is only given where it
        adds information beyond the parameter's name (the expected date and time formats).
        """
        if self.kind == "int":
            return {"type": "integer"}
        if self.kind == "num":
            return {"type": "number"}
        if self.kind == "enum":
            return {"type": "string", "enum": list(self.options)}
        if self.kind == "bool":
            return {"type": "boolean"}
        if self.kind == "list":
            return {"type": "array", "items": {"type": "string"}}
        if self.pool == "date":
            return {"type": "string", "format": "date", "description": "YYYY-MM-DD"}
        if self.pool == "time":
            return {"type": "string", "description": "HH:MM"}
        return {"type": "string"}


@dataclasses.dataclass(frozen=True)
class ToolEntry:
    """A catalogue tool: its OpenAI spec plus what the generator needs to phrase requests for it."""

    name: str
    domain: str
    catalogue: str
    spec: dict
    params: tuple[ParamSpec, ...]
    templates: tuple[str, ...]

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"tool {self.name!r} has no parameter {name!r}")


def _parse_param(name: str, text: str) -> ParamSpec:
    required = not name.endswith("?")
    name = name.rstrip("?")
    kind, _, arg = text.partition(":")
    if kind in ("int", "num"):
        low, high = (float(x) for x in arg.split("-"))
        if kind == "int":
            low, high = int(low), int(high)
        return ParamSpec(name, kind, required, low=low, high=high)
    if kind == "enum":
        return ParamSpec(name, "enum", required, options=tuple(arg.split("|")))
    if kind == "bool":
        if required:
            raise ValueError(f"boolean parameter {name!r} must be optional (write '{name}?')")
        return ParamSpec(name, "bool", required)
    if kind == "list":
        return ParamSpec(name, "list", required, pool=arg)
    return ParamSpec(name, "pool", required, pool=kind)


def _check_template(tool: str, params: dict[str, ParamSpec], template: str) -> None:
    """Reject templates that cannot yield exactly-recoverable arguments (fail at import, not mid-sweep)."""
    outside = _SEGMENT.sub("", template)
    for name in _PLACEHOLDER.findall(outside):
        if name not in params or not params[name].required:
            raise ValueError(f"{tool}: template {template!r} uses {{{name}}} outside [...], "
                             "but it is not a required parameter")
    for p in params.values():
        if p.required and f"{{{p.name}}}" not in outside:
            raise ValueError(f"{tool}: template {template!r} does not mention required parameter {p.name!r}")
    for segment in _SEGMENT.findall(template):
        match = _BOOL_SEGMENT.match(segment)
        if match:
            if match.group(1) not in params or params[match.group(1)].kind != "bool":
                raise ValueError(f"{tool}: segment [{segment}] must be [?BOOL_PARAM:if true|if false]")
            continue
        names = _PLACEHOLDER.findall(segment)
        if len(names) != 1 or names[0] not in params or params[names[0]].required:
            raise ValueError(f"{tool}: segment [{segment}] must mention exactly one optional parameter")


def build_entry(row: tuple, catalogue: str) -> ToolEntry:
    """A :class:`ToolEntry` from a catalogue row ``(name, domain, description, params, templates)``; raises
    ValueError when a template cannot yield exactly-recoverable arguments."""
    name, domain, description, raw_params, templates = row
    params = {p.name: p for p in (_parse_param(k, v) for k, v in raw_params.items())}
    for p in params.values():
        if p.kind in ("pool", "list") and p.pool not in POOLS:
            raise ValueError(f"{name}: parameter {p.name!r} uses unknown pool {p.pool!r}")
    if len(templates) < len(_TEMPLATE_SPLIT):
        raise ValueError(f"{name}: needs >= {len(_TEMPLATE_SPLIT)} templates so every split gets one")
    for template in templates:
        _check_template(name, params, template)
    spec = {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": {p.name: p.schema() for p in params.values()},
                       "required": [p.name for p in params.values() if p.required]}}}
    return ToolEntry(name, domain, catalogue, spec, tuple(params.values()), tuple(templates))


@functools.cache
def _entries(catalogue: str) -> dict[str, ToolEntry]:
    module = {"target": _target_catalogue}.get(catalogue)
    if module is None:
        raise ValueError(f"unknown catalogue {catalogue!r}; use one of {', '.join(CATALOGUES)}")
    entries = {row[0]: build_entry(row, catalogue) for row in module.TOOLS}
    if len(entries) != len(module.TOOLS):
        raise ValueError(f"duplicate tool names in the {catalogue} catalogue")
    for a, b in module.CONFUSABLE_PAIRS:
        if a not in entries or b not in entries:
            raise ValueError(f"confusable pair ({a}, {b}) names a tool outside the {catalogue} catalogue")
    return entries


def tool_entry(name: str) -> ToolEntry:
    """The catalogue entry for a bundled tool name (either catalogue)."""
    for catalogue in CATALOGUES:
        entry = _entries(catalogue).get(name)
        if entry is not None:
            return entry
    raise KeyError(f"tool {name!r} is not in the bundled catalogues; the generator can only phrase "
                   "requests for tools from target_tools() (or ToolEntry objects, e.g. procedural_tools())")


def target_tools() -> list[dict]:
    """The target catalogue as OpenAI function specs (fresh copies)."""
    return [copy.deepcopy(e.spec) for e in _entries("target").values()]


def tools_by_domain(catalogue: str = "target") -> dict[str, list[dict]]:
    """Specs of ``catalogue`` grouped by domain, in catalogue order."""
    grouped: dict[str, list[dict]] = {}
    for entry in _entries(catalogue).values():
        grouped.setdefault(entry.domain, []).append(copy.deepcopy(entry.spec))
    return grouped


def tool_domain(name: str) -> str:
    """The domain of a bundled tool (e.g. ``"weather"``)."""
    return tool_entry(name).domain


def confusable_pairs(catalogue: str = "target") -> list[tuple[str, str]]:
    """Pairs of tools that are easy to mix up (used as distractors and wrong_tool rejections)."""
    _entries(catalogue)
    module = _target_catalogue
    return list(module.CONFUSABLE_PAIRS)


@functools.cache
def confusables_of(name: str) -> tuple[str, ...]:
    """Tools confusable with ``name`` (both directions of every pair, any catalogue)."""
    out: list[str] = []
    for catalogue in CATALOGUES:
        for a, b in confusable_pairs(catalogue):
            if a == name:
                out.append(b)
            elif b == name:
                out.append(a)
    return tuple(out)


def phrasing_items(items: tuple[str, ...] | list[str], phrasing: str) -> list[str]:
    """The items of a phrasing list (templates, connectors, off-topic queries) of ``phrasing``.

    Item ``i`` is ``seen`` when ``i % 5 < 3`` (training draws from these, and so do the headline validation
    and test sets, with unseen values) and ``unseen`` otherwise (the ``unseen_phrasing`` evaluation slice)."""
    if phrasing not in PHRASINGS:
        raise ValueError(f"unknown phrasing {phrasing!r}; use one of {', '.join(PHRASINGS)}")
    return [item for i, item in enumerate(items) if (_TEMPLATE_SPLIT[i % len(_TEMPLATE_SPLIT)] == "train") == (phrasing == "seen")]


def templates_for(name: str, phrasing: str) -> list[str]:
    """The phrasing templates of tool ``name`` that are ``seen`` in training or held out (``unseen``)."""
    return phrasing_items(tool_entry(name).templates, phrasing)


def tool_name(tool: dict) -> str:
    """The function name of an OpenAI tool spec (also accepts the bare ``{"name": ...}`` form)."""
    return tool["function"]["name"] if "function" in tool else tool["name"]


__all__ = [
    "CATALOGUES",
    "PHRASINGS",
    "SPLITS",
    "ParamSpec",
    "ToolEntry",
    "build_entry",
    "confusable_pairs",
    "confusables_of",
    "phrasing_items",
    "target_tools",
    "templates_for",
    "tool_domain",
    "tool_entry",
    "tool_name",
    "tools_by_domain",
]
