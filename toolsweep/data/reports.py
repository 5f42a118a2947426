"""What a load of user data found: rejected rows (``RowError``), the ``LoadReport`` that counts and groups them,
and the errors a file can raise as a whole.

Why a module of its own: the loaders, the sweep-wide check run by ``toolsweep validate`` / ``train`` / ``run``
(``checks.py``) and ``toolsweep eval --data`` all describe bad rows, and they must describe them the same way.
Every error here is a ``UserError``: the CLI prints its message (file, line, what to change) and exits 2,
never a traceback.
"""

from __future__ import annotations

import dataclasses
import sys

from toolsweep.errors import UserError

__all__ = ["DataFileError", "DataValidationError", "LoadReport", "MissingDataFile", "RowError", "kind_label",
           "line_list", "require_rows", "usable_rows"]

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
    "bad_schema": ("malformed tool schema", "malformed tool schemas"),
    "bad_encoding": ("line that is not UTF-8", "lines that are not UTF-8"),
    "too_deep": ("row nested too deeply", "rows nested too deeply"),
    "bad_clarify": ("malformed clarify record", "malformed clarify records"),
}
MAX_REASON_CHARS = 300
"""A row error echoes at most this much: a reason may quote a value, and a value can be megabytes."""
MAX_LINES_LISTED = 10
"""``LoadReport.summary`` lists this many line numbers per kind, then a count."""
MAX_ROWS_LISTED = 50
"""``DataValidationError`` quotes this many rows, then a count: the first screenful is what a user fixes first."""


@dataclasses.dataclass(frozen=True)
class RowError:
    """One rejected row: where it is (1-based physical line) and why, plus a countable ``kind``."""

    path: str
    line: int
    reason: str
    kind: str = "invalid_json"

    def __post_init__(self) -> None:
        if len(self.reason) > MAX_REASON_CHARS:
            object.__setattr__(self, "reason", self.reason[: MAX_REASON_CHARS - 1] + "…")

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class DataValidationError(UserError, ValueError):
    """Raised in strict mode; ``errors`` holds every RowError found (not just the first)."""

    def __init__(self, errors: list[RowError]):
        self.errors = list(errors)
        where = errors[0].path if errors else "data"
        lines = "\n".join(str(e) for e in self.errors[:MAX_ROWS_LISTED])
        if len(self.errors) > MAX_ROWS_LISTED:
            lines += f"\n... and {len(self.errors) - MAX_ROWS_LISTED} more"
        super().__init__(f"{len(self.errors)} invalid row(s) in {where}; fix them or load with strict=False "
                         f"to skip them (data.strict: false):\n{lines}")


class DataFileError(UserError, ValueError):
    """A data file that cannot be used at all: unreadable, or without a single usable row. The message
    names the file (and the field that names it) and what to change."""


class MissingDataFile(DataFileError, FileNotFoundError):
    """A data path that is not a file."""


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
            parts.append(f"{kind_label(kind, len(lines))} ({line_list(lines)})")
        return f"skipped {len(self.errors)} of {self.total} rows in {self.path}: " + ", ".join(parts)

    def details(self) -> list[str]:
        """The rejected rows grouped by reason, most frequent first: per kind its count, its lines and the first
        such row's own message (``file:line: reason``), which says what to change."""
        groups: dict[str, list[RowError]] = {}
        for error in self.errors:
            groups.setdefault(error.kind, []).append(error)
        out = []
        for kind, errors in sorted(groups.items(), key=lambda item: (-len(item[1]), item[1][0].line)):
            out.append(f"{kind_label(kind, len(errors))} ({line_list([e.line for e in errors])}), first: {errors[0]}")
        return out


def kind_label(kind: str, count: int) -> str:
    """``2 invalid JSON``, ``1 call to a tool not offered``: a count of rejected rows of one kind, in words."""
    singular, plural = _LABELS.get(kind, (kind, kind))
    return f"{count} {singular if count == 1 else plural}"


def line_list(lines: list[int]) -> str:
    """``line 4`` / ``lines 4, 9`` / ``lines 1, 2, ..., 10 and 990 more``: a file of thousands of bad rows
    must still give a readable line."""
    if len(lines) == 1:
        return f"line {lines[0]}"
    shown = ", ".join(map(str, lines[:MAX_LINES_LISTED]))
    more = len(lines) - MAX_LINES_LISTED
    return f"lines {shown}" + (f" and {more} more" if more > 0 else "")


def require_rows(report: LoadReport, where: str) -> list[dict]:
    """The report's examples, or a :class:`DataFileError` naming ``where`` (the field or flag) when there are none:
    an empty file, or one whose every row was rejected (the reasons are in the message)."""
    if report.examples:
        return report.examples
    if not report.total:
        remove = "" if where.startswith("--") else ", or remove it from the config"
        raise DataFileError(f"{where}: {report.path} has no rows (it is empty or blank); put one JSON object per line "
                            f"in it{remove}")
    reasons = "; ".join(report.details()[:5])
    raise DataFileError(f"{where}: {report.path} has no usable rows: all {report.total} were rejected. {reasons}. "
                        "Fix the rows (docs/data_contract.md describes the format) or check the format setting")


def usable_rows(report: LoadReport, where: str) -> list[dict]:
    """What a trial uses of a loaded file: the skipped rows summarised on stderr under ``where`` (the field),
    then :func:`require_rows`."""
    if report.errors:
        print(f"{where}: {report.summary()}", file=sys.stderr)
    return require_rows(report, where)
