"""Every file in tests/config/bad/ is a malformed sweep file whose first line states what must be reported:

    # expect: FIELD.PATH @LINE: message fragment

``-`` as the field means a problem of the file as a whole; ``@-`` means no line number applies.
The test runs the real CLI and checks exit status 2, the exact ``file:line: field:`` prefix, the message, that
no traceback leaks, and that the report stays short whatever the file holds (some files are hostile: an alias
bomb, 1000 nested brackets, a 5000-character value, bytes that are not UTF-8).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from toolsweep.cli import main

BAD = Path(__file__).parent / "bad"
FILES = sorted(BAD.glob("*.yaml"))
EXPECT = re.compile(r"# expect: (?P<field>\S+) @(?P<line>\d+|-): (?P<message>.+)")


def _expectation(path: Path) -> tuple[str, str, str]:
    match = EXPECT.match(path.read_bytes().decode("utf-8", errors="replace").splitlines()[0])
    assert match, f"{path.name} must start with '# expect: FIELD @LINE: message'"
    return match["field"], match["line"], match["message"]


def test_there_are_at_least_15_distinct_malformed_files() -> None:
    assert len(FILES) >= 15
    assert len({_expectation(path) for path in FILES}) == len(FILES)


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_validate_reports_field_line_and_reason(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    field, line, message = _expectation(path)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err) < 2048, f"{len(err)} characters of report"
    where = str(path) if line == "-" else f"{path}:{line}"
    prefix = f"{where}: " if field == "-" else f"{where}: {field}: "
    matching = [row for row in err.splitlines() if row.startswith(prefix)]
    assert matching, f"no problem reported as {prefix!r}; got:\n{err}"
    assert any(message in row for row in matching), f"{message!r} not in {matching}"
