"""User data: JSONL in the contract's messages+tools format, the xLAM format or When2Call's, validated row by row.

Why validate every row: one call to a tool that is not offered, or an argument of the wrong type,
teaches the model exactly the failures the sweep is trying to remove. Each bad row becomes a
``RowError(path, line, reason)``; by default they are skipped and counted in a ``LoadReport``
(whose ``summary()`` says what was skipped and where); ``strict=True`` raises one
``DataValidationError`` listing every bad row as ``file:line: reason``.

xLAM rows look like ``{"query": str, "tools": [...], "answers": [...]}`` (``tools`` and
``answers`` may be JSON strings); their parameters ``{name: {type, description, default?}}`` are
converted to JSON schema by ``formats.py``.

When2Call (``format: when2call``; NVIDIA's ``nvidia/When2Call``, whose point is deciding *when* to call) has
four behaviours; each maps to a contract category, so its rows mix with ours and are scored the same way:

* call a tool -> the call's natural category (``simple``/``multiple`` by tools offered, ``parallel`` if
  several calls), with the ``<TOOLCALL>[...]</TOOLCALL>`` text turned into ``tool_calls``;
* ask a follow-up question (a required argument is missing) -> ``clarify``: a plain-text question, no call;
* say it cannot help (no offered tool fits, or no tool at all) -> ``irrelevance``: plain text, no call;
* answer directly -> ``irrelevance`` too ("no call expected"). The card lists ``direct`` as a possible
  ``correct_answer``, but the paper treats a direct answer as always a hallucination and the released test
  rows never have it as the right one; it is a distractor in the multiple-choice test and in DPO pairs.

Test rows name their kind (``correct_answer``). Train rows do not, so a text answer is ``clarify`` when it
asks (``formats.asks_follow_up``) and ``irrelevance`` otherwise. ``load_preference_jsonl`` reads
train_pref rows as DPO pairs; ``evaluation.when2call`` reads test rows for the multiple-choice evaluation.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolsweep.data.formats import FORMATS, RowProblem, from_xlam_row, normalise_messages_row
from toolsweep.data.schema import validate_call
from toolsweep.data.when2call_format import from_when2call_row, when2call_pair
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
    "bad_answer": ("malformed When2Call answer", "malformed When2Call answers"),
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


def _when2call_tool(tool: object) -> bool:
    """A tool given as a JSON string, or with BFCL/xLAM's ``"type": "dict"`` parameters, is When2Call's."""
    if isinstance(tool, str):
        return True
    parameters = tool.get("parameters") if isinstance(tool, dict) and "function" not in tool else None
    return isinstance(parameters, dict) and parameters.get("type") == "dict"


def _detect(row: dict) -> str:
    """The format of a row in ``auto`` mode; a When2Call row is told by its own fields, its ``<TOOLCALL>``
    answers or its tool layout, so that every row of a When2Call file gets the When2Call categories."""
    if "correct_answer" in row or "chosen_response" in row:
        return "when2call"
    if "messages" in row:
        messages = row["messages"] if isinstance(row["messages"], list) else []
        tools = row.get("tools") if isinstance(row.get("tools"), list) else []
        tagged = any(isinstance(m, dict) and "<toolcall>" in str(m.get("content", "")).lower() for m in messages)
        return "when2call" if tagged or any(_when2call_tool(t) for t in tools) else "messages"
    if "query" in row:
        return "xlam"
    raise RowProblem("missing_field", "row has neither 'messages' (contract or When2Call format), 'query' (xLAM "
                                      "format) nor 'question' + 'correct_answer' (When2Call test format)")


def _check_calls(message: dict, tools: list[dict]) -> None:
    for call in message.get("tool_calls", []):
        issues = validate_call(call, tools)
        if issues:
            name = call.get("function", {}).get("name", "?")
            raise RowProblem(issues[0][0], f"call to {name!r}: " + "; ".join(message for _, message in issues))


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown data format {fmt!r}; use one of {', '.join(FORMATS)}")


def parse_row(row: object, path: str, line: int, fmt: str = "auto") -> dict:
    """Convert and validate one decoded row; returns a contract example or raises RowProblem."""
    _check_format(fmt)
    if not isinstance(row, dict):
        raise RowProblem("missing_field", f"row is a JSON {type(row).__name__}, not an object")
    if fmt == "auto":
        fmt = _detect(row)
    default_id = f"{Path(path).stem}-{line:06d}"
    convert = {"xlam": from_xlam_row, "when2call": from_when2call_row}.get(fmt, normalise_messages_row)
    example = convert(row, default_id)
    _check_calls(example["messages"][-1], example["tools"])
    return example


def _check_preference_format(fmt: str) -> None:
    if fmt not in ("auto", "when2call"):
        raise ValueError(f"preference rows can be read in format 'when2call' only, not {fmt!r}; the other formats "
                         "hold SFT examples, from which data.preference_pairs builds pairs")


def parse_preference_row(row: object, path: str, line: int, fmt: str = "when2call") -> dict:
    """Convert and validate one preference row (When2Call's train_pref) into a DPO pair; raises RowProblem.

    The chosen answer's calls are checked against the tools like an SFT answer's; the rejected answer is
    wrong on purpose (it may call a tool that is not offered), so only its shape is checked."""
    _check_preference_format(fmt)
    if not isinstance(row, dict):
        raise RowProblem("missing_field", f"row is a JSON {type(row).__name__}, not an object")
    pair = when2call_pair(row, f"{Path(path).stem}-{line:06d}")
    _check_calls(pair["chosen"][0], pair["tools"])
    return pair


def _parse_line(text: str, path: str, line: int, parse: Callable[[Any, str, int], dict]
                ) -> tuple[dict | None, RowError | None]:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, RowError(path, line, f"invalid JSON ({exc.msg} at column {exc.colno})", "invalid_json")
    try:
        return parse(row, path, line), None
    except RowProblem as problem:
        return None, RowError(path, line, problem.message, problem.kind)


def _finish(report: LoadReport, strict: bool) -> LoadReport:
    if strict and report.errors:
        raise DataValidationError(report.errors)
    return report


def load_rows(path: str | Path, parse: Callable[[Any, str, int], dict], strict: bool = False) -> LoadReport:
    """Read a JSONL file through ``parse(row, path, line)`` (which raises RowProblem for a bad row).

    Blank lines are ignored; line numbers in errors are the file's physical lines (1-based). Every loader
    of this package goes through here, so all of them report bad rows the same way."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist; check the path in your config")
    report = LoadReport(str(path), 0, [], [])
    with path.open(encoding="utf-8") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            report.total += 1
            item, error = _parse_line(text, str(path), line, parse)
            if error is not None:
                report.errors.append(error)
            else:
                report.examples.append(item)
    return _finish(report, strict)


def load_jsonl(path: str | Path, fmt: str = "auto", strict: bool = False) -> LoadReport:
    """Load a JSONL file of contract-format, xLAM or When2Call rows (``fmt``: auto | messages | xlam | when2call)."""
    _check_format(fmt)
    return load_rows(path, lambda row, where, line: parse_row(row, where, line, fmt), strict)


def load_preference_jsonl(path: str | Path, fmt: str = "when2call", strict: bool = False) -> LoadReport:
    """Load When2Call train_pref rows as DPO pairs (``report.examples`` holds the pairs).

    Pairs have the layout of ``preferences.make_preference_pairs`` (``id, category, tools, prompt, chosen,
    rejected, rejection_kind``), so ``trainers.datasets.preference_dataset`` takes them as they are."""
    _check_preference_format(fmt)
    return load_rows(path, lambda row, where, line: parse_preference_row(row, where, line, fmt), strict)


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
