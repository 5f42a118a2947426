"""Read a sweep file once: YAML → search expressions lifted out → typed ``SweepSpec``.

The result, a ``Sweep``, holds the concrete spec (every searched field at its default candidate) and the
search space as plain data keyed by dotted field path. A trial's sampled values are applied with
``Sweep.resolve(values)``, which re-validates, so a trial only ever sees a typed, valid ``SweepSpec``.

Line numbers come from PyYAML's node marks, so every problem names ``file:line: field.path``. Overrides
(``--set dpo.beta=0.2``) are parsed as YAML values and checked exactly like the file's own keys.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from toolsweep.config.errors import Problem, SweepFileError, clean_loc, describe_pydantic_error
from toolsweep.config.schema import SweepSpec
from toolsweep.search_spaces.domains import Domain, SearchSpaceError, is_expression, parse_expression

__all__ = ["Sweep", "load_sweep", "parse_overrides"]

Loc = tuple[Any, ...]
_STAGE_SECTIONS = ("sft", "dpo", "lora")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``2e-3`` as the float everyone means by it.

    PyYAML implements YAML 1.1, whose floats need a dot (``2.0e-3``); ``2e-3`` would reach the typed
    config as a string and fail with "Input should be a valid number". YAML 1.2 and JSON read it as a
    number, and learning rates are written that way, in sweep files and in ``--set``.
    """


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"), list("-+0123456789")
)


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file: the concrete spec plus its search space (dotted path → Domain)."""

    spec: SweepSpec
    space: dict[str, Domain] = field(default_factory=dict)
    source: str = "<sweep>"

    def resolve(self, values: dict[str, Any]) -> SweepSpec:
        """The spec with sampled ``values`` (dotted path → value) applied, validated again."""
        unknown = sorted(set(values) - set(self.space))
        if unknown:
            raise KeyError(f"{unknown} are not searched fields of {self.source}; searched: {sorted(self.space)}")
        data = self.spec.model_dump()
        for path, value in values.items():
            _set_path(data, _split(path), value)
        try:
            return SweepSpec.model_validate(data)
        except ValidationError as exc:
            raise SweepFileError(_problems(exc, self.source, {})) from None


def _split(path: str) -> Loc:
    return tuple(int(part) if part.isdigit() else part for part in path.split("."))


def _dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)


def _set_path(data: dict[str, Any], loc: Loc, value: Any, defaults: Any = None) -> None:
    """Set ``data[loc] = value``; a section the file left out starts from ``defaults``' copy of it."""
    target: Any = data
    for part in loc[:-1]:
        default = defaults.get(part) if isinstance(defaults, dict) else None
        if isinstance(target, dict):
            if part not in target:
                target[part] = copy.deepcopy(default) if isinstance(default, dict) else {}
            target = target[part]
        else:
            target = target[part]
        defaults = default
    target[loc[-1]] = value


def _line_map(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[Problem], file: str) -> None:
    """Record the line of every key and list item; report duplicate keys (PyYAML keeps the last silently)."""
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(Problem(file, _dotted(loc + (key,)), "duplicate key", key_node.start_mark.line + 1))
            seen.add(key)
            lines[loc + (key,)] = key_node.start_mark.line + 1
            _line_map(value_node, loc + (key,), lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, loc + (index,), lines, problems, file)


def _line_of(loc: Loc, lines: dict[Loc, int]) -> int | None:
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


def parse_overrides(overrides: list[str]) -> list[tuple[Loc, Any]]:
    """``["dpo.beta=0.2", "lora.r={choice: [8, 16]}"]`` → locations and YAML-parsed values."""
    parsed = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise SweepFileError([Problem("--set", item, "expected KEY=VALUE, e.g. dpo.beta=0.2")])
        try:
            value = yaml.load(raw, Loader=_Loader) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise SweepFileError([Problem("--set", key, f"value is not valid YAML: {exc}")]) from None
        parsed.append((_split(key.strip()), value))
    return parsed


def _lift_expressions(
    data: Any, loc: Loc, space: dict[str, Domain], problems: list[Problem], file: str, lines: dict[Loc, int]
) -> Any:
    """Replace every search expression by its default candidate, collecting the Domains by path."""
    if is_expression(data):
        try:
            domain = parse_expression(data)
        except SearchSpaceError as exc:
            problems.append(Problem(file, _dotted(loc), str(exc), _line_of(loc, lines)))
            return None
        space[_dotted(loc)] = domain
        return domain.default()
    if isinstance(data, dict):
        return {key: _lift_expressions(value, loc + (key,), space, problems, file, lines) for key, value in data.items()}
    if isinstance(data, list):
        return [_lift_expressions(value, loc + (i,), space, problems, file, lines) for i, value in enumerate(data)]
    return data


_BLAMED_FIELD = re.compile(r"^([a-z_]+(?:\.[a-z_]+)+): (.*)$", re.DOTALL)


def _problems(exc: ValidationError, file: str, lines: dict[Loc, int], prefix: str = "") -> list[Problem]:
    found: list[Problem] = []
    for error in exc.errors():
        loc = clean_loc(tuple(error["loc"]))
        message = describe_pydantic_error(SweepSpec, error)
        blamed = _BLAMED_FIELD.match(message)
        if not loc and blamed:  # a check across sections names the field to change: point at its line
            loc, message = _split(blamed.group(1)), blamed.group(2)
        problem = Problem(file, _dotted(loc), prefix + message, _line_of(loc, lines))
        if problem not in found:
            found.append(problem)
    return found


def _check_candidates(
    data: dict[str, Any], space: dict[str, Domain], file: str, lines: dict[Loc, int]
) -> list[Problem]:
    """Validate every non-default candidate of every expression against its field's type and bounds."""
    found: list[Problem] = []
    for path, domain in space.items():
        loc = _split(path)
        for candidate in domain.candidates():
            trial = copy.deepcopy(data)
            _set_path(trial, loc, candidate)
            try:
                SweepSpec.model_validate(trial)
            except ValidationError as exc:
                prefix = f"search candidate {candidate!r}: "
                found.extend(p for p in _problems(exc, file, lines, prefix) if p not in found)
    return found


def _check_conditionals(spec: SweepSpec, space: dict[str, Domain], file: str, lines: dict[Loc, int]) -> list[Problem]:
    """Searching a switched-off stage's knobs wastes trials: say so instead of sampling silently."""
    found = []
    for section in _STAGE_SECTIONS:
        if getattr(spec, section).enabled or f"{section}.enabled" in space:
            continue
        for path in space:
            if path.startswith(section + "."):
                message = f"is searched but {section}.enabled is false; remove the search or enable {section}"
                found.append(Problem(file, path, message, _line_of(_split(path), lines)))
    return found


def load_sweep(path: str | Path, overrides: list[str] | None = None) -> Sweep:
    """Parse and validate a sweep file; raise SweepFileError listing every problem found."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SweepFileError([Problem(file, "", f"cannot read the sweep file: {exc.strerror or exc}")]) from None
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise SweepFileError([Problem(file, "", f"YAML syntax error: {reason}", line)]) from None
    if data is None:
        raise SweepFileError([Problem(file, "", "the sweep file is empty; start from configs/quickstart.yaml")])
    if not isinstance(data, dict):
        message = f"the top level must be a mapping of sections, got a {type(data).__name__}"
        raise SweepFileError([Problem(file, "", message, node.start_mark.line + 1)])

    problems: list[Problem] = []
    lines: dict[Loc, int] = {}
    _line_map(node, (), lines, problems, file)
    defaults = SweepSpec().model_dump()
    for loc, value in parse_overrides(overrides or []):
        _set_path(data, loc, value, defaults)
        lines[loc] = None  # type: ignore[assignment]  # overrides have no line; name them instead
    space: dict[str, Domain] = {}
    concrete = _lift_expressions(data, (), space, problems, file, lines)
    try:
        spec = SweepSpec.model_validate(concrete)
    except ValidationError as exc:
        # A broken search expression left None behind; its own problem already names that field.
        reported = {problem.field for problem in problems}
        problems += [problem for problem in _problems(exc, file, lines) if problem.field not in reported]
    if problems:
        raise SweepFileError(problems)
    problems = _check_candidates(concrete, space, file, lines) + _check_conditionals(spec, space, file, lines)
    if problems:
        raise SweepFileError(problems)
    return Sweep(spec=spec, space=space, source=file)
