"""User data: JSONL in the contract's messages+tools format, the xLAM format or When2Call's, validated row by row.

Why validate every row: one call to a tool that is not offered, or an argument of the wrong type,
teaches the model exactly the failures the sweep is trying to remove. Each bad row becomes a
``RowError(path, line, reason)``; by default they are skipped and counted in a ``LoadReport``
(whose ``summary()`` says what was skipped and where); ``strict=True`` raises one
``DataValidationError`` listing every bad row as ``file:line: reason``. Nothing a file holds raises anything
else: bytes that are not UTF-8, JSON nested past ``formats.MAX_DEPTH``, numbers Python will not read and tool
schemas of the wrong shape (``schema.tool_schema_problems``) are row errors too; a missing file, an unreadable
one, or one where almost nothing is usable is a ``DataFileError`` (a ``UserError``, see ``reports.py``).

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

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolsweep.data.formats import (
    FORMATS,
    MAX_DEPTH,
    TOO_MANY_DIGITS,
    RowProblem,
    from_xlam_row,
    nesting_exceeds,
    normalise_messages_row,
)
from toolsweep.data.reports import DataFileError, DataValidationError, LoadReport, MissingDataFile, RowError
from toolsweep.data.tool_validation import json_kind, tool_schema_problems, tools_by_name, validate_call
from toolsweep.data.when2call_format import from_when2call_row, when2call_mcq_item, when2call_pair

__all__ = ["DataFileError", "DataValidationError", "LoadReport", "MissingDataFile", "RowError",
           "load_examples", "load_hub_dataset", "load_jsonl", "load_preference_jsonl", "load_rows",
           "load_when2call_mcq", "open_data_file", "parse_preference_row", "parse_row", "write_jsonl"]

MAX_CALLS = 128
"""An answer with more tool calls is rejected: parallel answers make a handful, and each call is checked
against its tool's schema, so a row of thousands of calls against a large schema would take minutes."""
GIVE_UP_AFTER = 1000
"""``load_rows`` stops reading a file once this many rows were rejected and under 1 in 10 was usable: such a file
is not JSONL of the named format, and reading the rest would only repeat the first reason (slowly)."""
_BAD_BYTE = re.compile("[\udc80-\udcff]")  # what ``errors="surrogateescape"`` makes of a byte that is not UTF-8


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
    calls = message.get("tool_calls") or []
    if len(calls) > MAX_CALLS:
        raise RowProblem("bad_call", f"the answer makes {len(calls)} tool calls; at most {MAX_CALLS} are read, so split "
                                     "the row")
    offered = tools_by_name(tools) if calls else {}
    for call in calls:
        issues = validate_call(call, tools, offered)
        if issues:
            if issues[0][0] in ("unknown_tool", "bad_call", "bad_tools"):  # these messages name the call already
                raise RowProblem(issues[0][0], issues[0][1])
            name = call.get("function", {}).get("name", "?")
            raise RowProblem(issues[0][0], f"call to {name!r}: " + "; ".join(message for _, message in issues))


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown data format {fmt!r}; use one of {', '.join(FORMATS)}")


def parse_row(row: object, path: str, line: int, fmt: str = "auto") -> dict:
    """Convert and validate one decoded row; returns a contract example or raises RowProblem."""
    _check_format(fmt)
    if not isinstance(row, dict):
        raise RowProblem("missing_field", f"row is {json_kind(row)}, not a JSON object {{...}}")
    if fmt == "auto":
        fmt = _detect(row)
    default_id = f"{Path(path).stem}-{line:06d}"
    convert = {"xlam": from_xlam_row, "when2call": from_when2call_row}.get(fmt, normalise_messages_row)
    example = convert(row, default_id)
    _check_tools(example["tools"])
    _check_calls(example["messages"][-1], example["tools"])
    return example


def _check_tools(tools: list[dict]) -> None:
    issues = tool_schema_problems(tools)
    if issues:
        raise RowProblem(issues[0][0], issues[0][1])


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
        raise RowProblem("missing_field", f"row is {json_kind(row)}, not a JSON object {{...}}")
    pair = when2call_pair(row, f"{Path(path).stem}-{line:06d}")
    _check_tools(pair["tools"])
    _check_calls(pair["chosen"][0], pair["tools"])
    return pair


def _decode(text: str, path: str, line: int) -> tuple[Any, RowError | None]:
    """One line's JSON value, or the row error that says why it has none."""
    bad = _BAD_BYTE.search(text)
    if bad:
        byte = ord(bad.group()) - 0xDC00
        hint = " (it looks like UTF-16)" if line == 1 and text[:2] in ("\udcff\udcfe", "\udcfe\udcff") else ""
        return None, RowError(path, line, f"not UTF-8 text{hint}: byte 0x{byte:02x} at column {bad.start() + 1}; "
                                          "save the file as UTF-8", "bad_encoding")
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, RowError(path, line, f"invalid JSON ({exc.msg} at column {exc.colno})", "invalid_json")
    except RecursionError:
        return None, RowError(path, line, f"JSON nested more than {MAX_DEPTH} levels deep; flatten the row",
                              "too_deep")
    except ValueError:  # an integer of more than 4300 digits
        return None, RowError(path, line, f"invalid JSON ({TOO_MANY_DIGITS})", "invalid_json")
    if nesting_exceeds(row):
        return None, RowError(path, line, f"JSON nested more than {MAX_DEPTH} levels deep; flatten the row", "too_deep")
    return row, None


def _parse_line(text: str, path: str, line: int, parse: Callable[[Any, str, int], dict]
                ) -> tuple[dict | None, RowError | None]:
    row, error = _decode(text, path, line)
    if error is not None:
        return None, error
    try:
        return parse(row, path, line), None
    except RowProblem as problem:
        return None, RowError(path, line, problem.message, problem.kind)
    except RecursionError:  # the depth limits above should make this unreachable; a row must never stop a load
        return None, RowError(path, line, "row nested too deeply to check; flatten it", "too_deep")


def _finish(report: LoadReport, strict: bool) -> LoadReport:
    if strict and report.errors:
        raise DataValidationError(report.errors)
    return report


def open_data_file(path: str | Path, where: str = "") -> Path:
    """``path`` as a file, or a :class:`MissingDataFile` naming ``where`` (the field or flag) when given."""
    path = Path(path).expanduser()
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        prefix = f"{where}: " if where else ""
        raise MissingDataFile(f"{prefix}data file {path} {what}; check the path (a relative path is read from the "
                              "directory toolsweep runs in)")
    return path


def _give_up(report: LoadReport, line: int) -> None:
    reasons = "; ".join(report.details()[:3])
    raise DataFileError(f"{report.path}: stopped reading at line {line}: {len(report.errors)} of the {report.total} rows "
                        f"read are unusable ({reasons}). Check that the file holds JSONL rows in the format the "
                        "config names (docs/data_contract.md)")


def load_rows(path: str | Path, parse: Callable[[Any, str, int], dict], strict: bool = False) -> LoadReport:
    """Read a JSONL file through ``parse(row, path, line)`` (which raises RowProblem for a bad row).

    Blank lines are ignored; line numbers in errors are the file's physical lines (1-based). Every loader
    of this package goes through here, so all of them report bad rows the same way. A line that is not
    UTF-8 is a row error like any other (bytes that do not decode are kept as surrogates and found per
    line), so one stray byte costs one row, not the file; a UTF-8 byte-order mark is skipped."""
    path = open_data_file(path)
    report = LoadReport(str(path), 0, [], [])
    try:
        with path.open(encoding="utf-8-sig", errors="surrogateescape") as handle:
            for line, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                report.total += 1
                item, error = _parse_line(text, str(path), line, parse)
                if error is None:
                    report.examples.append(item)
                    continue
                report.errors.append(error)
                if len(report.errors) >= GIVE_UP_AFTER and len(report.errors) > 9 * len(report.examples):
                    _give_up(report, line)
    except OSError as exc:
        raise DataFileError(f"data file {path} cannot be read ({exc.strerror or exc}); check its permissions") from None
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


def load_when2call_mcq(path: str | Path, strict: bool = False) -> LoadReport:
    """Read When2Call test rows (``when2call_test_mcq.jsonl`` / ``when2call_test_llm_judge.jsonl``) as items
    ``{id, tools, prompt, choices: {kind: assistant message}, correct_answer, source}``, which
    ``toolsweep.evaluation.when2call`` scores; bad rows are reported with file, line and field."""
    def parse(row: Any, where: str, line: int) -> dict:
        if not isinstance(row, dict):
            raise RowProblem("missing_field", f"row is a JSON {type(row).__name__}, not an object")
        return when2call_mcq_item(row, f"{Path(where).stem}-{line:06d}")

    return load_rows(path, parse, strict)


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
        if nesting_exceeds(row):
            report.errors.append(RowError(where, index + 1, f"nested more than {MAX_DEPTH} levels deep", "too_deep"))
            continue
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
