"""Problems found in a sweep file, each naming the file, the line and the field path.

Validation collects every problem before reporting, so a user fixes a file in one pass instead of one
error per run. Pydantic's error records are translated here into messages that say what is allowed.
"""

from __future__ import annotations

import difflib
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from toolsweep.errors import UserError
from toolsweep.search_spaces.domains import EXPRESSION_KEYS, brief_repr

__all__ = ["Problem", "SweepFileError", "allowed_keys", "describe_pydantic_error"]

_NOISE_PREFIXES = ("Value error, ", "Assertion failed, ")
# Bounds on what a problem echoes: a field path is built from the file's own keys and a message may quote
# a value, and either can be megabytes long; a report must stay readable whatever the file holds.
MAX_FIELD_CHARS = 200
MAX_MESSAGE_CHARS = 800
MAX_PROBLEMS_SHOWN = 50


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a sweep file. ``line`` is 1-based, or None when the field is absent."""

    file: str
    field: str
    message: str
    line: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "field", _clip(self.field, MAX_FIELD_CHARS))
        object.__setattr__(self, "message", _clip(self.message, MAX_MESSAGE_CHARS))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class SweepFileError(UserError, ValueError):
    """A sweep file (or its overrides) cannot be used; ``problems`` lists every reason.

    The message shows the first ``MAX_PROBLEMS_SHOWN``: a machine-generated file can have thousands of
    the same mistake, and the first screenful is what a user fixes first.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = [str(problem) for problem in problems[:MAX_PROBLEMS_SHOWN]]
        if len(problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more problems")
        super().__init__("\n".join(shown))


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (``Model``, ``Model | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        model = _model_of(arg)
        if model is not None:
            return model
    return None


def allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Field names of the section at ``loc`` (skipping free-form dict keys), or None if not a section."""
    model: type[BaseModel] | None = root
    expect_dict_key = False
    for part in loc:
        if model is None:
            return None
        if expect_dict_key:
            expect_dict_key = False
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        if typing.get_origin(annotation) is dict:
            model = _model_of(typing.get_args(annotation)[1])
            expect_dict_key = True
        else:
            model = _model_of(annotation)
    return None if model is None or expect_dict_key else sorted(model.model_fields)


def _is_union_tag(part: Any) -> bool:
    # Pydantic appends the union member it tried ("list[str]", "literal['x']") to the location.
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool"))


def clean_loc(loc: tuple[Any, ...], kind: str = "") -> tuple[Any, ...]:
    """``loc`` without pydantic's union tags. An unknown key (``extra_forbidden``) ends in the user's own key,
    which is kept even when it looks like a tag (a key ``[`` or ``str``)."""
    if kind == "extra_forbidden" and loc:
        return clean_loc(loc[:-1]) + loc[-1:]
    return tuple(part for part in loc if not _is_union_tag(part))


def describe_pydantic_error(root: type[BaseModel], error: dict[str, Any]) -> str:
    """A one-line message for one pydantic error: what is wrong, what was given, what is allowed."""
    kind = error["type"]
    loc = clean_loc(tuple(error["loc"]), kind)
    if kind == "extra_forbidden":
        keys = allowed_keys(root, loc[:-1]) or []
        hint = difflib.get_close_matches(str(loc[-1]), keys, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        return f"unknown key{suggestion}; allowed keys here: {', '.join(keys)}"
    if kind == "missing":
        return "required field is missing"
    message = error["msg"]
    for prefix in _NOISE_PREFIXES:
        message = message.removeprefix(prefix)
    given = error.get("input")
    if isinstance(given, dict) and kind.endswith("_type"):
        message += f" (got a mapping {brief_repr(given)}); search expressions are: " + ", ".join(sorted(EXPRESSION_KEYS))
    elif (kind.endswith(("_type", "_parsing")) or "ctx" in error or kind in ("literal_error", "finite_number")) and not isinstance(
        given, (dict, BaseModel)
    ):
        message += f" (got {brief_repr(given)})"
    return message
