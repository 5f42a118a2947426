"""Fuzzing the sweep-file reader: whatever the file or the --set string, the answer is a sweep or a
SweepFileError (exit 2 with file, line and field), never another exception. FUZZ_EXAMPLES=N runs N examples per test
(150 by default; 1500 each found nothing more on 2026-11-30 after the unknown-key fix below)."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolsweep.config import SweepFileError, load_sweep
from toolsweep.config.schema import SweepSpec

SECTIONS = list(SweepSpec.model_fields)
KEYS = SECTIONS + ["sources", "learning_rate", "beta", "r", "choice", "grid", "loguniform", "weight", "builtin",
                   "path", "test", "holdout", "metric", "algorithm", "name", "x", "0", ""]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["simple", "grid", "optuna", "asha", "val/exact_match",
                                                           "builtin:tiny-tool-lm", ".inf", "zero2"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
                      max_leaves=20)
documents = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)
FUZZ = settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load(path: Path, overrides: list[str] | None = None) -> None:
    try:
        load_sweep(path, overrides)
    except SweepFileError as exc:
        assert str(exc) and len(str(exc)) < 20_000


@FUZZ
@given(document=documents)
def test_any_yaml_document_loads_or_is_a_sweep_file_error(tmp_path_factory, document) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    _load(path)


@FUZZ
@given(text=st.text(max_size=300))
def test_any_text_loads_or_is_a_sweep_file_error(tmp_path_factory, text) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))  # lone surrogates become invalid UTF-8
    _load(path)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes_load_or_are_a_sweep_file_error(tmp_path_factory, raw) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_bytes(raw)
    _load(path)


@FUZZ
@given(key=st.text(alphabet=st.sampled_from("abcdefghilmnoprstuvwxyz._0123[]{}:=, "), max_size=30),
       value=st.one_of(st.text(max_size=30), st.sampled_from(["{choice: [1, 2]}", "[", "&a 1", "*a", "{grid: []}",
                                                               ".nan", "null", "{a: {b: {c: 1}}}"])))
def test_any_set_override_applies_or_is_a_sweep_file_error(tmp_path_factory, key, value) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_text("name: fuzz\n")
    _load(path, [f"{key}={value}"])
    _load(path, [key])  # no '=' at all
