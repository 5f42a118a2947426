"""User data: JSONL in the contract's messages+tools format or the xLAM format, validated row by row.

Why validate every row: one call to a tool that is not offered, or an argument of the wrong type,
teaches the model exactly the failures the sweep is trying to remove. Each bad row becomes a
``RowError(path, line, reason)``; by default they are skipped and counted in a ``LoadReport``
(whose ``summary()`` says what was skipped and where); ``strict=True`` raises one
``DataValidationError`` listing every bad row as ``file:line: reason``.

xLAM rows look like ``{"query": str, "tools": [...], "answers": [...]}`` (``tools`` and
``answers`` may be JSON strings); their parameters ``{name: {type, description, default?}}`` are
converted to JSON schema by ``formats.py``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from toolsweep.data.formats import FORMATS, RowProblem, from_xlam_row, normalise_messages_row
from toolsweep.data.schema import validate_call
from toolsweep.errors import UserError

_LABELS: dict[str, tuple[str, str]] = {
    "invalid_json": ("invalid JSON", "invalid JSON"),
    "missing_field": ("missing field", "missing fields"),
    "bad_messages": ("malformed messages list", "malformed messages lists"),
    "bad_tools": ("malformed tools list", "malformed tools lists"),
    "bad_call": ("malformed tool call", "malformed tool calls"),
    "unknown_tool": ("call to a tool not offered", "calls to a tool not offered"),
    "unknown_argument": ("unknown argument", "unknown arguments"),
    "missing_argument": ("missing required argument", "missing required arguments"),
    "wrong_type": ("argument of the wrong type", "arguments of the wrong type"),
    "enum_violation": ("value outside its enum", "values outside their enum"),
    "bad_format": ("badly formatted value", "badly formatted values"),
}


@dataclasses.dataclass(frozen=True)
class RowError:
    """One rejected row: where it is (1-based physical line) and why, plus a countable ``kind``."""

    path: str
    line: int
    reason: str
    kind: str = "invalid_json"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class DataValidationError(UserError, ValueError):
    """Raised in strict mode; ``errors`` holds every RowError found (not just the first)."""

    def __init__(self, errors: list[RowError]):
        self.errors = list(errors)
        where = errors[0].path if errors else "data"
        lines = "\n".join(str(e) for e in self.errors)
        super().__init__(f"{len(self.errors)} invalid row(s) in {where}; fix them or load with strict=False "
                         f"to skip them (data.strict: false):\n{lines}")


@dataclasses.dataclass
class LoadReport:
    """What a load produced: the valid examples, the rejected rows, and how many rows were read."""

    path: str
    total: int
    examples: list[dict]
    errors: list[RowError]

    def counts(self) -> dict[str, int]:
        """Rejected rows per kind."""
        counts: dict[str, int] = {}
        for error in self.errors:
            counts[error.kind] = counts.get(error.kind, 0) + 1
        return counts

    def summary(self) -> str:
        """One human line, e.g. ``skipped 3 of 120 rows in x.jsonl: 2 invalid JSON (lines 4, 9), ...``."""
        if not self.errors:
            return f"loaded {self.total} rows from {self.path}"
        by_kind: dict[str, list[int]] = {}
        for error in self.errors:
            by_kind.setdefault(error.kind, []).append(error.line)
        parts = []
        for kind, lines in sorted(by_kind.items(), key=lambda item: (-len(item[1]), item[1][0])):
            singular, plural = _LABELS.get(kind, (kind, kind))
            label = singular if len(lines) == 1 else plural
            where = f"line {lines[0]}" if len(lines) == 1 else "lines " + ", ".join(map(str, lines))
            parts.append(f"{len(lines)} {label} ({where})")
        return f"skipped {len(self.errors)} of {self.total} rows in {self.path}: " + ", ".join(parts)


def parse_row(row: object, path: str, line: int, fmt: str = "auto") -> dict:
    """Convert and validate one decoded row; returns a contract example or raises RowProblem."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown data format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not isinstance(row, dict):
        raise RowProblem("missing_field", f"row is a JSON {type(row).__name__}, not an object")
    if fmt == "auto":
        fmt = "messages" if "messages" in row else "xlam" if "query" in row else ""
        if not fmt:
            raise RowProblem("missing_field", "row has neither 'messages' (contract format) nor 'query' (xLAM format)")
    default_id = f"{Path(path).stem}-{line:06d}"
    example = from_xlam_row(row, default_id) if fmt == "xlam" else normalise_messages_row(row, default_id)
    for call in example["messages"][-1].get("tool_calls", []):
        issues = validate_call(call, example["tools"])
        if issues:
            name = call.get("function", {}).get("name", "?")
            raise RowProblem(issues[0][0], f"call to {name!r}: " + "; ".join(message for _, message in issues))
    return example


def _parse_line(text: str, path: str, line: int, fmt: str) -> tuple[dict | None, RowError | None]:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, RowError(path, line, f"invalid JSON ({exc.msg} at column {exc.colno})", "invalid_json")
    try:
        return parse_row(row, path, line, fmt), None
    except RowProblem as problem:
        return None, RowError(path, line, problem.message, problem.kind)


def _finish(report: LoadReport, strict: bool) -> LoadReport:
    if strict and report.errors:
        raise DataValidationError(report.errors)
    return report


def load_jsonl(path: str | Path, fmt: str = "auto", strict: bool = False) -> LoadReport:
    """Load a JSONL file of contract-format or xLAM rows (``fmt``: auto | messages | xlam).

    Blank lines are ignored; line numbers in errors are the file's physical lines (1-based).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown data format {fmt!r}; use one of {', '.join(FORMATS)}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist; check the path in your config")
    report = LoadReport(str(path), 0, [], [])
    with path.open(encoding="utf-8") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            report.total += 1
            example, error = _parse_line(text, str(path), line, fmt)
            if error is not None:
                report.errors.append(error)
            else:
                report.examples.append(example)
    return _finish(report, strict)


def load_examples(path: str | Path, fmt: str = "auto", strict: bool = False) -> list[dict]:
    """Just the valid examples of ``load_jsonl`` (the report is dropped; use load_jsonl to see it)."""
    return load_jsonl(path, fmt, strict).examples


def load_hub_dataset(name: str, split: str = "train", fmt: str = "xlam", strict: bool = False,
                     limit: int | None = None, **load_kwargs) -> LoadReport:
    """Load a ``datasets`` hub dataset (e.g. an xLAM function-calling set) with the same validation.

    Needs network access or a local cache; ``datasets`` is imported here only. Row ``i`` is reported
    as line ``i + 1`` of ``name:split``.
    """
    import datasets  # heavy import, only when a hub dataset is requested

    rows = datasets.load_dataset(name, split=split, **load_kwargs)
    where = f"{name}:{split}"
    report = LoadReport(where, 0, [], [])
    for index, row in enumerate(rows):
        if limit is not None and index >= limit:
            break
        report.total += 1
        try:
            report.examples.append(parse_row(dict(row), where, index + 1, fmt))
        except RowProblem as problem:
            report.errors.append(RowError(where, index + 1, problem.message, problem.kind))
    return _finish(report, strict)


def write_jsonl(examples: list[dict], path: str | Path) -> Path:
    """Write examples (or pairs) one JSON object per line; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example, ensure_ascii=False) + "\n")
    return path
