"""Read a sweep file once: YAML → search expressions lifted out → typed ``SweepSpec``.

The result, a ``Sweep``, holds the concrete spec (every searched field at its default candidate) and the
search space as plain data keyed by dotted field path. A trial's sampled values are applied with
``Sweep.resolve(values)``, which re-validates, so a trial only ever sees a typed, valid ``SweepSpec``.

Line numbers come from PyYAML's node marks, so every problem names ``file:line: field.path``. Overrides
(``--set dpo.beta=0.2``) are parsed as YAML values and checked exactly like the file's own keys. Reading
the YAML safely (encoding, aliases, depth) is ``toolsweep.config.yaml_reader``'s job. Everything ``run``
would reject is checked here, so ``toolsweep validate`` passing means the sweep can start.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from toolsweep.config.errors import Problem, SweepFileError, clean_loc, describe_pydantic_error
from toolsweep.config.file_fields import file_fields
from toolsweep.config.schema import SweepSpec
from toolsweep.config.yaml_reader import Loc, dotted, parse_yaml, read_sweep_text
from toolsweep.search_spaces.domains import (
    EXPRESSION_KEYS,
    Domain,
    SearchSpaceError,
    brief_repr,
    is_expression,
    parse_expression,
    searcher_conflicts,
)

__all__ = ["Sweep", "anchor_paths", "apply_overrides", "load_sweep", "parse_overrides"]

_STAGE_SECTIONS = ("sft", "dpo", "lora")
# Mappings whose keys are names the user chooses (sources, test sets): a name is never an expression key.
_NAMED_ENTRIES = (("data", "sources"), ("data", "test"))


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


def _set_path(data: dict[str, Any], loc: Loc, value: Any, defaults: Any = None) -> None:
    """Set ``data[loc] = value``; a section the file left out starts from ``defaults``' copy of it.

    Raises ValueError when ``loc`` goes through a value that holds no keys (``name.x`` with ``name: x``).
    """
    target: Any = data
    for depth, part in enumerate(loc):
        if not (isinstance(target, dict) or (isinstance(target, list) and isinstance(part, int) and part < len(target))):
            inside = dotted(loc[:depth]) or "the file"
            raise ValueError(f"{inside} is {brief_repr(target, 60)}, not a section with keys, so it has no {part!r}; "
                             f"set {inside}=VALUE instead, or check the path")
        if depth == len(loc) - 1:
            target[part] = value
            return
        default = defaults.get(part) if isinstance(defaults, dict) else None
        if isinstance(target, dict) and part not in target:
            target[part] = copy.deepcopy(default) if isinstance(default, dict) else {}
        target, defaults = target[part], default


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
            value = parse_yaml(raw, "--set", key.strip()).data if raw.strip() else ""
        except SweepFileError as exc:  # a line inside a one-line value says nothing
            raise SweepFileError([replace(problem, line=None) for problem in exc.problems]) from None
        parsed.append((_split(key.strip()), value))
    return parsed


def _reserved_names(data: Any, loc: Loc, file: str, lines: dict[Loc, int]) -> list[Problem]:
    """Source and test-set names that are expression keys: ``sources: {choice: {builtin: simple}}`` reads
    as a search over source sets. A one-key mapping holding a list stays an expression."""
    if not isinstance(data, dict) or not any(key in EXPRESSION_KEYS for key in data):
        return []
    if len(data) == 1 and isinstance(next(iter(data.values())), list):
        return []
    kind = "source" if loc[-1] == "sources" else "test set"
    return [Problem(file, dotted(loc + (key,)), f"{key!r} is reserved for search expressions "
                    f"({', '.join(sorted(EXPRESSION_KEYS))}); give this {kind} another name", _line_of(loc + (key,), lines))
            for key in data if key in EXPRESSION_KEYS]


def _lift_expressions(
    data: Any, loc: Loc, space: dict[str, Domain], problems: list[Problem], file: str, lines: dict[Loc, int]
) -> Any:
    """Replace every search expression by its default candidate, collecting the Domains by path."""
    reserved = _reserved_names(data, loc, file, lines) if loc in _NAMED_ENTRIES else []
    problems.extend(reserved)  # then read the entries as named ones, so only the names are reported
    if is_expression(data) and not reserved:
        try:
            domain = parse_expression(data)
        except SearchSpaceError as exc:
            problems.append(Problem(file, dotted(loc), str(exc), _line_of(loc, lines)))
            return None
        space[dotted(loc)] = domain
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
        loc = clean_loc(tuple(error["loc"]), error["type"])
        message = describe_pydantic_error(SweepSpec, error)
        blamed = _BLAMED_FIELD.match(message)
        if not loc and blamed:  # a check across sections names the field to change: point at its line
            loc, message = _split(blamed.group(1)), blamed.group(2)
        problem = Problem(file, dotted(loc), prefix + message, _line_of(loc, lines))
        if problem not in found:
            found.append(problem)
    return found


def _field_info(loc: Loc) -> FieldInfo | None:
    """The pydantic field at a dotted location of ``SweepSpec`` (None for a name the user chose, e.g. a source)."""
    model: Any = SweepSpec
    info = None
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = info.annotation
    return info


def _check_fixed(space: dict[str, Domain], file: str, lines: dict[Loc, int]) -> list[Problem]:
    """Fields marked ``json_schema_extra={"fixed": why}`` in the schema hold one value in every trial."""
    found = []
    for path in space:
        info = _field_info(_split(path))
        extra = info.json_schema_extra if info is not None and isinstance(info.json_schema_extra, dict) else {}
        if "fixed" in extra:
            message = f"cannot be a search expression: {extra['fixed']}"
            found.append(Problem(file, path, message, _line_of(_split(path), lines)))
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


def _check_search(spec: SweepSpec, space: dict[str, Domain], file: str, lines: dict[Loc, int]) -> list[Problem]:
    """What Ray would refuse only once the sweep starts: an expression the searcher cannot run. Reported here
    so ``toolsweep validate`` passing means ``run`` can start."""
    found = []
    algorithm = spec.search.algorithm
    for path in searcher_conflicts(space, algorithm):
        if algorithm == "grid":
            kind = type(space[path]).__name__.lower()  # the class names are the expression keys
            message = (f"{{{kind}: ...}} is a range, but search.algorithm: grid runs a finite list of values; "
                       "use {choice: [...]} here, or algorithm random, optuna or hyperopt")
        else:
            message = (f"{{grid: [...]}} runs every value, which search.algorithm: {algorithm} cannot (it samples); "
                       "use {choice: [...]} here, or algorithm grid or random")
        found.append(Problem(file, path, message, _line_of(_split(path), lines)))
    return found


def apply_overrides(data: dict[str, Any], overrides: list[str], lines: dict[Loc, int] | None = None) -> None:
    """Apply ``--set`` overrides to a parsed sweep file, as :func:`load_sweep` does; a script that rewrites a
    sweep file (benchmarks/grid_table.py) uses it too, so both read KEY=VALUE alike and fail alike. ``lines``,
    the file's line numbers by location, learns that the overridden fields have none."""
    lines = {} if lines is None else lines
    defaults = SweepSpec().model_dump()
    for loc, value in parse_overrides(overrides):
        try:
            _set_path(data, loc, value, defaults)
        except ValueError as exc:
            raise SweepFileError([Problem("--set", dotted(loc), str(exc))]) from None
        lines[loc] = None  # type: ignore[assignment]  # overrides have no line; name them instead


def load_sweep(path: str | Path, overrides: list[str] | None = None) -> Sweep:
    """Parse and validate a sweep file; raise SweepFileError listing every problem found."""
    file = str(path)
    parsed = parse_yaml(read_sweep_text(path), file)
    data, lines = parsed.data, parsed.lines
    if data is None:
        raise SweepFileError([Problem(file, "", "the sweep file is empty; start from configs/quickstart.yaml")])
    if not isinstance(data, dict):
        message = f"the top level must be a mapping of sections, got a {type(data).__name__}"
        raise SweepFileError([Problem(file, "", message, parsed.top_line)])

    problems: list[Problem] = list(parsed.duplicates)
    apply_overrides(data, overrides or [], lines)
    space: dict[str, Domain] = {}
    concrete = _lift_expressions(data, (), space, problems, file, lines)
    problems += _check_fixed(space, file, lines)
    try:
        spec = SweepSpec.model_validate(concrete)
    except ValidationError as exc:
        # A broken search expression left None behind; its own problem already names that field.
        reported = {problem.field for problem in problems}
        problems += [problem for problem in _problems(exc, file, lines) if problem.field not in reported]
    if problems:
        raise SweepFileError(problems)
    problems = (_check_candidates(concrete, space, file, lines) + _check_conditionals(spec, space, file, lines)
                + _check_search(spec, space, file, lines))
    if problems:
        raise SweepFileError(problems)
    return Sweep(spec=anchor_paths(spec), space=space, source=file)


def _absolute(value: str | None) -> str | None:
    if value is None or Path(value).expanduser().is_absolute() or not Path(value).expanduser().exists():
        return value
    return str(Path(value).expanduser().resolve())


def anchor_paths(spec: SweepSpec) -> SweepSpec:
    """The spec with every relative file path made absolute, against the directory toolsweep was started in.

    Trials run in working directories of their own (Ray's trial folders; another node of a cluster), where
    ``examples/own_tools/train.jsonl`` names nothing; a sweep file's paths mean what they meant where the user
    typed the command. Names that are not existing paths (hub ids, ``builtin:...``, ``zero2``) are left alone.
    """
    data = spec.model_dump()
    for loc, value in file_fields(spec):
        _set_path(data, loc, _absolute(value))
    return SweepSpec.model_validate(data)
