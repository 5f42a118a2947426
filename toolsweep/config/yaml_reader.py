"""Sweep-file bytes → plain data plus the line of every key, in time and memory bounded by the file's size.

A sweep file is a small hand-written document, but ``toolsweep validate`` must answer any file with a
message, never a hang or a traceback. So this reader:

- decodes UTF-8 itself and names the line and byte of a bad one (PyYAML would raise UnicodeDecodeError);
- refuses YAML aliases (``*name``): following them in a "billion laughs" file expands ~500 bytes into
  gigabytes, and a sweep file never needs them (write the value out, or use ``--set``);
- refuses nesting deeper than ``MAX_DEPTH``: a sweep file needs about five levels, and libyaml's own
  limit (1000) is past what a recursive walk survives;
- composes the node tree once, with libyaml when present (6x faster than pure-Python PyYAML on a 200 KB
  file), walks it once without recursion for lines, duplicate keys, aliases and depth, and only then
  constructs Python values from the same tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from toolsweep.config.errors import Problem, SweepFileError
from toolsweep.search_spaces.domains import brief_repr

__all__ = ["MAX_DEPTH", "Loc", "ParsedYaml", "dotted", "parse_yaml", "read_sweep_text"]

Loc = tuple[Any, ...]
MAX_DEPTH = 64
_LIBYAML = getattr(yaml, "CSafeLoader", None)
_FLOAT_WITHOUT_DOT = re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$")
# Characters YAML 1.1 forbids in a stream (it allows tab, newline, carriage return and printable text).
_FORBIDDEN = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class _SweepLoading:
    """What both loaders add to PyYAML's safe loading.

    ``2e-3`` is read as the float everyone means by it (the resolver is added below): PyYAML implements
    YAML 1.1, whose floats need a dot (``2.0e-3``), so ``2e-3`` would reach the typed config as a string and
    fail with "Input should be a valid number". YAML 1.2 and JSON read it as a number, and learning rates
    are written that way, in sweep files and in ``--set``. And a value Python refuses to build is a YAML
    error with its line, not a traceback.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's construction, with a value Python refuses (``2024-13-45``, a 5000-digit int) as a YAML error."""
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]
        except (ValueError, OverflowError) as exc:
            if isinstance(exc, yaml.YAMLError):
                raise
            kind = str(node.tag).rsplit(":", 1)[-1]
            problem = f"cannot read {brief_repr(node.value, 80)} as a {kind} ({exc}); quote it to keep it as text"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


class _PurePythonLoader(_SweepLoading, yaml.SafeLoader):
    """The fallback without libyaml: its composer recurses (3 frames a level), so it stops by itself at
    twice ``MAX_DEPTH``, as libyaml does at 1000; up to there ``_walk`` reports the field and line."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > 2 * MAX_DEPTH and self.check_event(yaml.MappingStartEvent, yaml.SequenceStartEvent):
                raise _TooDeep(self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_LOADERS: list[type] = [_PurePythonLoader]
if _LIBYAML is not None:

    class _LibYamlLoader(_SweepLoading, _LIBYAML):  # type: ignore[misc, valid-type]
        """libyaml's safe loader: its composer is C and stops at 1000 levels of nesting by itself."""

    _LOADERS.insert(0, _LibYamlLoader)
for _loader in _LOADERS:
    _loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_WITHOUT_DOT, list("-+0123456789"))


class _TooDeep(Exception):
    def __init__(self, line: int | None) -> None:
        self.line = line


def dotted(loc: Loc) -> str:
    """``("data", "sources", "x", "weight")`` → ``"data.sources.x.weight"``, the way problems name fields."""
    return ".".join(str(part) for part in loc)


@dataclass(frozen=True)
class ParsedYaml:
    """A YAML document's value, the line of every key and list item, and its duplicate keys."""

    data: Any
    lines: dict[Loc, int]
    duplicates: list[Problem]
    top_line: int | None = None


def _too_deep(file: str, field: str, line: int | None) -> SweepFileError:
    message = (f"nested more than {MAX_DEPTH} levels deep; a sweep file needs about five (section, field, search "
               "expression, list): look for unclosed or runaway brackets")
    return SweepFileError([Problem(file, field, message, line)])


def _alias_error(text: str, loader: type, file: str, field: str) -> SweepFileError:
    """Name the first alias and its line: the composed tree only shows that a node is shared, not where."""
    line, anchor = None, "?"
    for event in yaml.parse(text, Loader=loader):  # events stream: linear, aliases are not followed
        if isinstance(event, yaml.AliasEvent):
            line, anchor = event.start_mark.line + 1, event.anchor[:40]
            break
    message = (f"YAML aliases are not allowed in sweep files (*{anchor} repeats the value anchored as &{anchor}): "
               "they can expand a few bytes into gigabytes; write the value out where it is used")
    return SweepFileError([Problem(file, field, message, line)])


def _walk(root: yaml.Node, text: str, loader: type, file: str, field: str) -> tuple[dict[Loc, int], list[Problem]]:
    """Lines of every key and item, and duplicate keys (PyYAML keeps the last silently), without recursion.

    A node reached twice is an alias (libyaml's tree shares the anchored node), so it is refused here,
    before anything expands it; depth is counted on the way down.
    """
    lines: dict[Loc, int] = {}
    duplicates: list[Problem] = []
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, Loc, int]] = [(root, (), 1)]
    while stack:
        node, loc, depth = stack.pop()
        if id(node) in seen:
            raise _alias_error(text, loader, file, field)
        seen.add(id(node))
        lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and depth > MAX_DEPTH:
            keys = [part for part in loc[:3] if isinstance(part, str)]  # the section and field, not 64 indices
            raise _too_deep(file, field or dotted(tuple(keys)), node.start_mark.line + 1)
        children: list[tuple[yaml.Node, Loc, int]] = []
        if isinstance(node, yaml.MappingNode):
            keys: set[Any] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):  # a list as a key: construction says "unhashable"
                    children.append((key_node, loc + ("?",), depth + 1))
                    children.append((value_node, loc + ("?",), depth + 1))
                    continue
                if id(key_node) in seen:  # a key can be an alias too
                    raise _alias_error(text, loader, file, field)
                seen.add(id(key_node))
                key = key_node.value
                if key in keys:
                    duplicates.append(Problem(file, dotted(loc + (key,)), "duplicate key", key_node.start_mark.line + 1))
                keys.add(key)
                lines[loc + (key,)] = key_node.start_mark.line + 1
                children.append((value_node, loc + (key,), depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            children = [(item, loc + (index,), depth + 1) for index, item in enumerate(node.value)]
        stack.extend(reversed(children))
    return lines, sorted(duplicates, key=lambda problem: problem.line or 0)


def _syntax_error(exc: yaml.YAMLError, text: str, file: str, field: str) -> SweepFileError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    reason = getattr(exc, "problem", None) or str(exc)
    if "maximum nesting depth" in reason:  # libyaml's own limit (1000), far past ours
        return _too_deep(file, field, line)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
    if isinstance(exc, yaml.constructor.ConstructorError):
        message = reason if reason.startswith("cannot read") else f"cannot read a value: {reason}"
    else:
        message = f"YAML syntax error: {reason}"
    return SweepFileError([Problem(file, field, message, line)])


def parse_yaml(text: str, file: str, field: str = "", *, pure_python: bool = False) -> ParsedYaml:
    """One YAML document → ParsedYaml; SweepFileError for anything that is not a plain, small document.

    ``field`` names what the text is (an override's key) in problems; ``pure_python`` forces the loader
    used where libyaml is missing, so tests cover both.
    """
    forbidden = _FORBIDDEN.search(text)
    if forbidden:
        start = text.rfind("\n", 0, forbidden.start()) + 1
        message = (f"character U+{ord(forbidden.group()):04X} at column {forbidden.start() - start + 1} is not "
                   "allowed in YAML; delete it (or save the file as plain UTF-8 text)")
        raise SweepFileError([Problem(file, field, message, text.count("\n", 0, forbidden.start()) + 1)])
    loader_class = _PurePythonLoader if pure_python else _LOADERS[0]
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return ParsedYaml(None, {}, [])
        lines, duplicates = _walk(root, text, loader_class, file, field)
        return ParsedYaml(loader.construct_document(root), lines, duplicates, root.start_mark.line + 1)
    except _TooDeep as exc:
        raise _too_deep(file, field, exc.line) from None
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text, file, field) from None
    finally:
        loader.dispose()


def read_sweep_text(path: str | Path) -> str:
    """The file's text, decoded as UTF-8 (a leading byte-order mark dropped), or a problem naming the bad byte."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SweepFileError([Problem(file, "", f"cannot read the sweep file: {exc.strerror or exc}")]) from None
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        utf16 = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        message = (f"is not UTF-8 text{utf16}: byte 0x{raw[exc.start]:02x} at column {exc.start - line_start + 1} "
                   f"(file offset {exc.start}) cannot be decoded; save the file as UTF-8")
        raise SweepFileError([Problem(file, "", message, raw.count(b"\n", 0, exc.start) + 1)]) from None
