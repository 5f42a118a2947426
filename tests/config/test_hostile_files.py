"""Files and overrides written to break the reader: each gets a short ``file:line: field: message``, fast.

The fixtures in tests/config/bad/ (alias_bomb, deep_nesting, not_utf8, ...) are checked line by line in
test_malformed_files.py; here are the properties a fixture cannot state: the bomb answers within seconds in a
separate process, both YAML loaders agree, ``--set`` through a scalar is explained, and ``validate`` rejects
exactly the search spaces ``run`` would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from toolsweep.cli import main
from toolsweep.config import SweepFileError, load_sweep
from toolsweep.config.yaml_reader import MAX_DEPTH, parse_yaml

BAD = Path(__file__).parent / "bad"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


def test_the_alias_bomb_is_refused_in_seconds_with_a_short_message() -> None:
    bomb = BAD / "alias_bomb.yaml"
    assert bomb.stat().st_size < 600
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "toolsweep", "validate", str(bomb)], check=False, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert time.perf_counter() - started < 60
    assert len(done.stderr) < 2048 and "Traceback" not in done.stderr
    assert f"{bomb}:4: YAML aliases are not allowed" in done.stderr


@pytest.mark.parametrize("pure_python", [False, True], ids=["libyaml", "pure-python"])
def test_both_loaders_refuse_aliases_and_deep_nesting_with_the_same_line(pure_python: bool) -> None:
    with pytest.raises(SweepFileError) as info:
        parse_yaml("a: &x [1, 2]\nb:\n  c: *x\n", "f.yaml", pure_python=pure_python)
    assert str(info.value).startswith("f.yaml:3: YAML aliases are not allowed in sweep files (*x repeats")
    deep = "a: 1\nb:\n  c: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    with pytest.raises(SweepFileError) as info:
        parse_yaml(deep, "f.yaml", pure_python=pure_python)
    assert str(info.value).startswith(f"f.yaml:3: b.c: nested more than {MAX_DEPTH} levels deep")
    within = "c: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"  # the mapping is the first level
    assert parse_yaml(within, "f.yaml", pure_python=pure_python).data["c"] is not None
    runaway = "a: 1\nb: " + "[" * 5000 + "\n"  # past what either composer builds: no field, still the line
    with pytest.raises(SweepFileError, match=f"^f.yaml:2: nested more than {MAX_DEPTH} levels deep"):
        parse_yaml(runaway, "f.yaml", pure_python=pure_python)


@pytest.mark.parametrize("pure_python", [False, True], ids=["libyaml", "pure-python"])
def test_both_loaders_read_the_same_values_and_lines(pure_python: bool) -> None:
    text = (BAD.parents[2] / "configs" / "quickstart.yaml").read_text() + "dup: 1\ndup: 2\n"
    parsed = parse_yaml(text, "q.yaml", pure_python=pure_python)
    other = parse_yaml(text, "q.yaml", pure_python=not pure_python)
    assert (parsed.data, parsed.lines, parsed.duplicates) == (other.data, other.lines, other.duplicates)
    assert [str(problem) for problem in parsed.duplicates] == [f"q.yaml:{text.count(chr(10))}: dup: duplicate key"]
    assert parsed.lines[("search", "algorithm")] == 1 + text.splitlines().index("  algorithm: optuna")
    assert parse_yaml("lr: 2e-3\n", "f", pure_python=pure_python).data == {"lr": 2e-3}


def test_libyaml_is_used_when_installed() -> None:
    from toolsweep.config import yaml_reader

    assert yaml_reader._LOADERS[0].__name__ == ("_LibYamlLoader" if yaml.__with_libyaml__ else "_PurePythonLoader")


@pytest.mark.parametrize(("override", "expected"), [
    ("name.x=1", "--set: name.x: name is 'base', not a section with keys, so it has no 'x'; set name=VALUE instead"),
    ("seed.x=1", "--set: seed.x: seed is 0, not a section with keys"),
    ("lora.target_modules.3=q_proj", "--set: lora.target_modules.3: lora.target_modules is 'all-linear'"),
    ("lora.r=&a [*a]", "--set: lora.r: YAML aliases are not allowed"),
    ("lora.r=" + "[" * 200 + "]" * 200, "--set: lora.r: nested more than 64 levels deep"),
])
def test_a_bad_override_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str,
                                     expected: str) -> None:
    assert main(["validate", str(_write(tmp_path, "name: base\nseed: 0\n")), "--set", override]) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected), err
    assert "Traceback" not in err


def test_non_finite_numbers_are_refused_wherever_a_float_goes(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: n\nlora:\n  dropout: .nan\ndpo:\n  beta: {choice: [0.1, -.inf]}\n")
    with pytest.raises(SweepFileError) as info:
        load_sweep(path, ["resources.cpus_per_trial=.inf"])
    found = {(problem.field, problem.line) for problem in info.value.problems}
    assert found == {("lora.dropout", 3), ("resources.cpus_per_trial", None)}
    with pytest.raises(SweepFileError, match=r"dpo.beta: search candidate -inf: Input should be a finite number"):
        load_sweep(_write(tmp_path, "name: n\ndpo:\n  beta: {choice: [0.1, -.inf]}\n"))


@pytest.mark.parametrize("name", ["../../x", "/abs/x", "a\\b", ".hidden", "..", "tab\there", "x" * 256])
def test_name_must_be_a_plain_directory_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(SweepFileError, match="name: use a plain directory name"):
        load_sweep(_write(tmp_path, "seed: 1\n"), [f"name={json.dumps(name)}"])  # YAML reads JSON strings


@pytest.mark.parametrize("name", ["lr-sweep", "sweep_2", "a.b", "Qwen 0.5B"])
def test_plain_names_are_kept(tmp_path: Path, name: str) -> None:
    assert load_sweep(_write(tmp_path, f"name: '{name}'\n")).spec.name == name


def test_a_search_over_whole_source_sets_is_still_an_expression(tmp_path: Path) -> None:
    text = "data:\n  sources: {choice: [{a: {builtin: simple}}, {b: {builtin: parallel}}]}\n"
    sweep = load_sweep(_write(tmp_path, text))
    assert list(sweep.spec.data.sources) == ["a"] and "data.sources" in sweep.space


def test_reports_stay_short_however_many_problems(tmp_path: Path) -> None:
    keys = "".join(f"  k{'x' * 300}{i}: 1\n" for i in range(500))
    with pytest.raises(SweepFileError) as info:
        load_sweep(_write(tmp_path, "name: many\nsft:\n" + keys))
    assert len(info.value.problems) == 500
    report = str(info.value)
    assert report.endswith("... and 450 more problems") and len(report) < 50 * 1200
    assert all(len(problem.field) <= 200 and problem.field.endswith("…") for problem in info.value.problems)


def _run_rejects(space: dict, algorithm: str, scheduler: str) -> bool:
    from toolsweep.config.schema import SearchConfig
    from toolsweep.errors import UserError
    from toolsweep.sweeps.searchers import build_scheduler
    from toolsweep.sweeps.tune_domains import to_tune_space

    try:
        if space:
            to_tune_space(space, algorithm)  # what build_searcher calls for every algorithm
        build_scheduler(SearchConfig(algorithm=algorithm, scheduler=scheduler), max_t=6)
    except UserError:
        return True
    return False


EXPRESSIONS = {
    "choice": "sft:\n  learning_rate: {choice: [1.0e-3, 2.0e-3]}\n",
    "grid": "dpo:\n  beta: {grid: [0.1, 0.2]}\n",
    "uniform": "dpo:\n  beta: {uniform: [0.05, 0.5]}\n",
    "loguniform": "sft:\n  learning_rate: {loguniform: [1.0e-4, 1.0e-2]}\n",
    "quniform": "dpo:\n  beta: {quniform: [0.1, 0.5, 0.1]}\n",
    "randint": "lora:\n  r: {randint: [4, 8]}\n",
    "none": "",
}


@pytest.mark.parametrize("scheduler", ["fifo", "asha"])
@pytest.mark.parametrize("algorithm", ["random", "grid", "optuna", "hyperopt"])
def test_validate_rejects_exactly_the_search_spaces_run_rejects(tmp_path: Path, algorithm: str, scheduler: str) -> None:
    for kind, text in EXPRESSIONS.items():
        path = _write(tmp_path, f"name: s\nsearch:\n  algorithm: {algorithm}\n  scheduler: {scheduler}\n{text}")
        try:
            sweep = load_sweep(path)
        except SweepFileError as exc:
            assert all(problem.line is not None for problem in exc.problems)
            validate_rejects, space = True, load_sweep(path, ["search.algorithm=random", "search.scheduler=fifo"]).space
        else:
            validate_rejects, space = False, sweep.space
        assert validate_rejects == _run_rejects(space, algorithm, scheduler), (kind, algorithm, scheduler)
