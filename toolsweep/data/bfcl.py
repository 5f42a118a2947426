"""Load the Berkeley Function Calling Leaderboard (BFCL) single-turn suites as :class:`EvalTask`.

BFCL's data (Apache-2.0) ships inside the ``bfcl-eval`` wheel on PyPI under ``bfcl_eval/data/``:
question files ``BFCL_v4_<category>.json`` (JSON lines: ``id``, ``question`` = list of turns, each a
list of messages, ``function`` = function docs with BFCL type names such as ``dict``/``float``/
``tuple``) and answers in ``possible_answer/`` under the same file name (``ground_truth``).
Irrelevance categories have no answer file. Older releases named files ``BFCL_v3_*`` and the
python simple suite ``BFCL_v3_simple.json``; both spellings are found.

The package is never imported (it pulls pandas, tree-sitter, openai ...): its directory is located
with ``importlib.util.find_spec``, or a wheel is read with :mod:`zipfile`
(``pip download --no-deps bfcl-eval -d DIR``), or a directory is named explicitly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from toolsweep.config.vocabulary import BFCL_CATEGORY_GROUPS as CATEGORY_GROUPS
from toolsweep.data.eval_task import EvalTask

__all__ = ["CATEGORY_GROUPS", "LIVE_CATEGORIES", "NON_LIVE_CATEGORIES", "WHEEL_ENV", "BFCLData",
           "bfcl_function_to_tool", "installed_data_dir", "load_bfcl", "open_bfcl", "tasks_from_rows"]

WHEEL_ENV = "TOOLSWEEP_BFCL_WHEEL"

NON_LIVE_CATEGORIES: tuple[str, ...] = ("simple_python", "multiple", "parallel", "parallel_multiple",
                                        "irrelevance")
"""BFCL's expert-written single-turn categories: what ``load_bfcl`` and ``toolsweep eval --suite bfcl`` read
by default. Every category and the tool-call category it is reported under: ``CATEGORY_GROUPS``."""
LIVE_CATEGORIES: tuple[str, ...] = ("live_simple", "live_multiple", "live_irrelevance")
"""BFCL's user-contributed ("live") categories that ``toolsweep eval --suite bfcl --live`` adds."""

# BFCL type names -> JSON-schema names, for prompting (scoring keeps BFCL's names).
_TO_JSON_SCHEMA = {
    "dict": "object", "float": "number", "tuple": "array", "list": "array", "any": "string",
    "bool": "boolean", "str": "string", "int": "integer", "double": "number", "long": "integer",
}


def _file_names(category: str) -> list[str]:
    names = [f"BFCL_v4_{category}.json", f"BFCL_v3_{category}.json"]
    if category == "simple_python":
        names += ["BFCL_v3_simple.json", "BFCL_v4_simple.json"]
    return names


class BFCLData:
    """Read access to one copy of BFCL's ``data`` directory: a folder or a wheel."""

    def __init__(self, location: Path, *, wheel: bool) -> None:
        self.location = location
        self.wheel = wheel
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if wheel:
            self._zip = zipfile.ZipFile(location)
            names = [n for n in self._zip.namelist() if "/data/BFCL_" in n and "unused" not in n]
            if not names:
                raise FileNotFoundError(f"{location} holds no bfcl_eval/data/BFCL_*.json; is it a bfcl-eval wheel?")
            self._prefix = names[0].rsplit("/", 1)[0] + "/"

    def __repr__(self) -> str:
        return f"BFCLData({str(self.location)!r}, wheel={self.wheel})"

    def _read(self, rel: str) -> str | None:
        if self._zip is not None:
            try:
                return self._zip.read(self._prefix + rel).decode("utf-8")
            except KeyError:
                return None
        path = self.location / rel
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def _find(self, category: str, answers: bool) -> tuple[str, str] | None:
        for name in _file_names(category):
            text = self._read(f"possible_answer/{name}" if answers else name)
            if text is not None:
                return name, text
        return None

    def questions(self, category: str) -> list[dict[str, Any]]:
        found = self._find(category, answers=False)
        if found is None:
            raise FileNotFoundError(f"no question file for BFCL category {category!r} in {self.location} "
                                    f"(looked for {', '.join(_file_names(category))})")
        return _json_lines(found[1])

    def answers(self, category: str) -> dict[str, list[dict[str, Any]]]:
        """id -> ground truth; empty for irrelevance categories, which have no answer file."""
        found = self._find(category, answers=True)
        if found is None:
            if "irrelevance" in category:
                return {}
            raise FileNotFoundError(f"no possible_answer file for BFCL category {category!r} in {self.location}")
        return {row["id"]: row["ground_truth"] for row in _json_lines(found[1])}


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _data_dir(root: Path) -> Path | None:
    for cand in (root, root / "data", root / "bfcl_eval" / "data"):
        if cand.is_dir() and any(cand.glob("BFCL_v*.json")):
            return cand
    return None


def installed_data_dir() -> Path | None:
    """``bfcl_eval/data`` of an installed package, located without importing it."""
    try:
        spec = importlib.util.find_spec("bfcl_eval")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        found = _data_dir(Path(loc))
        if found is not None:
            return found
    return None


def open_bfcl(source: str | os.PathLike[str] | None = None) -> BFCLData:
    """Find BFCL data: ``source`` (a folder or a ``.whl``), else ``$TOOLSWEEP_BFCL_WHEEL``, else the
    installed ``bfcl_eval`` package."""
    for cand in (source, os.environ.get(WHEEL_ENV)):
        if cand:
            path = Path(cand).expanduser()
            if path.is_file() and path.suffix in (".whl", ".zip"):
                return BFCLData(path, wheel=True)
            if path.is_dir():
                found = _data_dir(path)
                if found is not None:
                    return BFCLData(found, wheel=False)
            raise FileNotFoundError(f"{path} is neither a bfcl-eval wheel nor a folder holding BFCL_v*.json files")
    installed = installed_data_dir()
    if installed is not None:
        return BFCLData(installed, wheel=False)
    raise FileNotFoundError(
        "BFCL data not found: run `pip download --no-deps bfcl-eval -d DIR` and pass the wheel path "
        f"(or set {WHEEL_ENV}=DIR/bfcl_eval-*.whl), or `pip install bfcl-eval`"
    )


def _convert_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_convert_schema(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = _TO_JSON_SCHEMA.get(value, value)
        elif key == "properties" and isinstance(value, Mapping):
            out[key] = {k: _convert_schema(v) for k, v in value.items()}
        elif key in ("parameters", "items", "additionalProperties"):
            out[key] = _convert_schema(value)
        else:
            out[key] = value
    return out


def bfcl_function_to_tool(function: Mapping[str, Any]) -> dict[str, Any]:
    """A BFCL function doc as an OpenAI tool spec with JSON-schema type names, for prompting."""
    return {"type": "function", "function": _convert_schema(dict(function))}


def tasks_from_rows(category: str, rows: Sequence[Mapping[str, Any]],
                    answers: Mapping[str, list[dict[str, Any]]]) -> list[EvalTask]:
    """Turn BFCL question rows plus answers into tasks; only single-turn rows are supported."""
    if category not in CATEGORY_GROUPS:
        raise ValueError(f"unsupported BFCL category {category!r}; choose from {sorted(CATEGORY_GROUPS)}")
    tasks = []
    for row in rows:
        turns = row["question"]
        if len(turns) != 1:
            raise ValueError(f"BFCL row {row['id']} has {len(turns)} turns; only single-turn categories are supported")
        if "irrelevance" in category:
            truth: list[dict[str, Any]] = []
        elif row["id"] in answers:
            truth = answers[row["id"]]
        else:
            raise KeyError(f"BFCL row {row['id']} has no possible answer")
        functions = [dict(f) for f in row["function"]]
        tasks.append(EvalTask(
            id=row["id"],
            category=CATEGORY_GROUPS[category],
            subcategory=category,
            messages=[dict(m) for m in turns[0]],
            tools=[bfcl_function_to_tool(f) for f in functions],
            functions=functions,
            ground_truth=truth,
        ))
    return tasks


def load_bfcl(categories: Sequence[str] = NON_LIVE_CATEGORIES, *,
              source: str | os.PathLike[str] | BFCLData | None = None,
              limit: int | None = None) -> list[EvalTask]:
    """Load BFCL categories as tasks (``limit`` rows per category, from the start of each file)."""
    unknown = [c for c in categories if c not in CATEGORY_GROUPS]
    if unknown:
        raise ValueError(f"unsupported BFCL categories {unknown}; choose from {sorted(CATEGORY_GROUPS)}")
    data = source if isinstance(source, BFCLData) else open_bfcl(source)
    tasks: list[EvalTask] = []
    for category in categories:
        rows = data.questions(category)
        if limit is not None:
            rows = rows[:limit]
        tasks.extend(tasks_from_rows(category, rows, data.answers(category)))
    return tasks
