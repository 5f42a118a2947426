"""README's two commands are the contract with a new user; CI must run exactly those."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())[:2]


def test_readme_gives_a_setup_command_and_a_test_command() -> None:
    setup, tests = _readme_commands()
    assert "pip install torch==2.13.0" in setup and "toolsweep " in setup
    assert "pytest" in tests


def test_ci_installs_as_readme_says_and_runs_its_test_command() -> None:
    setup, tests = _readme_commands()
    install = setup.rsplit(" && toolsweep ", 1)[0]
    ci = (ROOT / ".ci" / "run").read_text()
    assert install in ci
    assert tests in ci
    assert "-eq 5" in ci  # pytest's "no tests collected" must fail CI
