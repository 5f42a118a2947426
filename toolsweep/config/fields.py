"""``toolsweep validate --fields``: every field of a sweep file with its type, default and description.

Read straight from the pydantic schema, so the reference a user reads cannot drift from what the loader
accepts: a field added to a section shows up here with the description it was declared with.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from toolsweep.config.schema import SweepSpec

__all__ = ["describe_fields", "field_rows"]


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(value) for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(arg) for arg in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _section(annotation: Any) -> type[BaseModel] | None:
    """The section model a field holds (directly, optionally, or as the values of a named mapping)."""
    candidates = [annotation, *typing.get_args(annotation)]
    for candidate in candidates:
        for inner in [candidate, *typing.get_args(candidate)]:
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None


def field_rows(model: type[BaseModel] = SweepSpec, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """``(dotted path, type, default, description)`` for every leaf field; ``<name>`` stands for a key you choose
    (a data source, a test set)."""
    rows: list[tuple[str, str, str, str]] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        section = _section(info.annotation)
        if section is not None:
            named = typing.get_origin(info.annotation) is dict or any(
                typing.get_origin(arg) is dict for arg in typing.get_args(info.annotation))
            rows += field_rows(section, f"{path}.<name>." if named else f"{path}.")
            continue
        if info.default is not PydanticUndefined:
            default = repr(info.default)
        elif info.default_factory is not None:
            default = repr(info.default_factory())  # type: ignore[call-arg]
        else:
            default = "(required)"
        rows.append((path, _type_name(info.annotation), default, info.description or ""))
    return rows


def describe_fields() -> str:
    """The field reference as aligned text, one field per line with its description below."""
    lines = []
    for path, kind, default, description in field_rows():
        lines.append(f"{path}: {kind} = {default}")
        if description:
            lines.append(f"    {description}")
    return "\n".join(lines)
