"""The package's layers: only sweeps/ and cluster/ may import Ray (checked in a fresh interpreter, importing
every module), no import runs from a lower layer to a higher one and no two subpackages import each other
(checked on the source with ``ast``, imports inside functions included), and the SFT cache key covers what it
must.

Why: the trial is a plain function, and the library below it must stay usable (and importable fast) without a
Ray cluster; an upward import drags the upper layer into everything below it and is how cycles start."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

RAY_FREE = ("config", "data", "models", "evaluation", "trainers", "analysis", "search_spaces")

_SCRIPT = f"""
import importlib, pkgutil, sys
for package in {RAY_FREE!r}:
    root = importlib.import_module("toolsweep." + package)
    for module in pkgutil.iter_modules(root.__path__):
        importlib.import_module(f"toolsweep.{{package}}.{{module.name}}")
print(sorted(name for name in sys.modules if name == "ray" or name.startswith("ray.")))
"""


def test_the_library_below_sweeps_and_cluster_imports_no_ray() -> None:
    done = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_the_sft_cache_key_covers_what_changes_the_weights_and_nothing_else() -> None:
    """Two trials share an SFT stage exactly when their keys match: a field that changes the SFT weights must
    change the key (or trials would load the wrong model), one that does not must not (or SFT runs twice)."""
    from toolsweep.config.schema import SweepSpec
    from toolsweep.trainers.stage_cache import sft_key

    base = SweepSpec()

    def key(**sections: dict) -> str:
        data = base.model_dump()
        for section, values in sections.items():
            data[section] = {**data[section], **values}
        return sft_key(SweepSpec.model_validate(data))

    changes = [{"sft": {"learning_rate": 5e-3}}, {"sft": {"max_steps": 7}}, {"sft": {"batch_size": 2}},
               {"sft": {"max_length": 256}}, {"lora": {"r": 4}}, {"data": {"train_examples": 10}},
               {"resources": {"precision": "fp32"}}, {"model": {"chat_template": "hermes"}}]
    for change in changes:
        assert key(**change) != sft_key(base), change
    assert sft_key(base.model_copy(update={"seed": 1})) != sft_key(base)
    same = [{"dpo": {"beta": 0.5}}, {"dpo": {"learning_rate": 1e-5}}, {"sft": {"eval_every": 3}},
            {"eval": {"max_new_tokens": 8}}, {"search": {"num_samples": 3}}, {"data": {"preference_pairs": 3}},
            {"data": {"test_examples": 7}}]
    for change in same:
        assert key(**change) == sft_key(base), change


# The layers, lowest first. A module may import its own layer or a lower one, never a higher one: a lower
# layer that reached up would drag the upper one (and its imports: Ray, pandas, the trainer) into everything
# below it, and would make the two import each other. Units are subpackages or top-level modules of
# ``toolsweep``.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("search_spaces", "errors"),
    ("config",),
    ("data",),
    ("models",),
    ("evaluation",),
    ("trainers",),
    ("ranking", "records"),
    ("analysis", "cluster"),
    ("sweeps",),
    ("api", "cli", "__main__", "__init__"),
)
_LEVEL = {unit: level for level, units in enumerate(LAYERS) for unit in units}
_ROOT = Path(__file__).parents[1] / "toolsweep"


def _unit(module: str) -> str:
    """``toolsweep.data.prepare`` -> ``data``; ``toolsweep`` itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``toolsweep`` import in ``path``, inside functions and ``TYPE_CHECKING``
    too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # ``from toolsweep import api`` imports the submodule ``toolsweep.api``.
            submodules = [f"{target}.{alias.name}" for alias in node.names
                          if _is_module(root.parent.joinpath(*target.split("."), alias.name))]
            found += [(node.lineno, sub) for sub in submodules] or [(node.lineno, target)]
    # The bare package is left out: ``import toolsweep`` (for its path or version) runs only ``__init__``,
    # which every ``toolsweep.x`` import runs anyway and which imports nothing until an attribute is asked
    # for.
    return [(line, name) for line, name in found if name.startswith("toolsweep.")]


def _is_module(path: Path) -> bool:
    return path.is_dir() or path.with_name(path.name + ".py").is_file()


def import_edges(root: Path = _ROOT) -> list[tuple[str, int, str, str]]:
    """``(file, line, from unit, to unit)`` for every import between two different units of the package."""
    edges = []
    for path in sorted(root.rglob("*.py")):
        source = _unit(_module_name(path, root))
        for line, name in _imports(path, root):
            target = _unit(name)
            if target != source:
                edges.append((str(path.relative_to(root)), line, source, target))
    return edges


def upward_imports(edges: list[tuple[str, int, str, str]]) -> list[str]:
    unknown = sorted({unit for _, _, *units in edges for unit in units if unit not in _LEVEL})
    assert not unknown, f"give {unknown} a layer in tests/test_layers.py LAYERS"
    return [f"{file}:{line} ({source}) -> {target}" for file, line, source, target in edges
            if _LEVEL[target] > _LEVEL[source]]


def unit_cycles(edges: list[tuple[str, int, str, str]]) -> list[list[str]]:
    """Every cycle of imports between units (found by depth-first search; each reported once per start)."""
    graph: dict[str, set[str]] = {}
    for _, _, source, target in edges:
        graph.setdefault(source, set()).add(target)
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(unit: str, trail: list[str]) -> None:
        state[unit] = "open"
        for nxt in sorted(graph.get(unit, ())):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[unit] = "done"

    for unit in sorted(graph):
        if unit not in state:
            visit(unit, [unit])
    return cycles


def test_no_import_runs_up_the_layers() -> None:
    upward = upward_imports(import_edges())
    assert not upward, ("imports from a lower layer to a higher one (move the fact or function down):\n"
                        + "\n".join(upward))


def test_no_import_cycles_between_subpackages() -> None:
    cycles = unit_cycles(import_edges())
    assert not cycles, "import cycles between units: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_the_layer_check_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    """The checks above pass only if they can fail: an upward import hidden in a function, a relative one
    and a cycle between two siblings are each caught."""
    root = tmp_path / "toolsweep"
    (root / "config").mkdir(parents=True)
    (root / "config" / "__init__.py").write_text("")
    (root / "config" / "a.py").write_text("def f():\n    from toolsweep.trainers import lora\n")
    (root / "config" / "b.py").write_text("from ..sweeps import driver\n")
    (root / "analysis.py").write_text("import toolsweep.cluster.jobs\n")
    (root / "cluster.py").write_text("from toolsweep import analysis\n")
    edges = import_edges(root)
    assert upward_imports(edges) == ["config/a.py:2 (config) -> trainers", "config/b.py:1 (config) -> sweeps"]
    assert unit_cycles(edges) == [["analysis", "cluster", "analysis"]]
