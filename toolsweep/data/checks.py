"""Read every user data file a sweep names before anything trains, and answer in one report.

Why before: a trial reads its data after Ray has started and the model has loaded, and a bad file fails every
trial the same way; a file that only exists is not a file that can be used. So ``toolsweep validate``,
``train`` and ``run`` (before Ray starts) all call :func:`check_sweep_data`, which reads each file a trial
would read: the ``path`` entries of ``data.sources``, ``data.validation`` and ``data.test``, the
``data.preferences`` file and ``eval.when2call``, and every candidate of a searched ``path``. It reports bad
rows grouped by reason with their lines, and the file-level problems that stop a sweep: a file with no usable
row, a holdout that leaves nothing, and, under ``data.strict: true``, any bad row at all.

Hub data sets are read only if they are in the local ``datasets`` cache when the check must stay offline
(``validate``); otherwise the report says they are checked when a trial loads them. ``train`` and ``run``
fetch them as a trial would, so their problems are found before Ray starts too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolsweep.data.reports import DataFileError, LoadReport, require_rows
from toolsweep.errors import UserError

__all__ = ["DataCheck", "DataCheckError", "FileCheck", "check_sweep_data", "hub_cached", "load_hub_report"]


class DataCheckError(UserError):
    """The sweep's data cannot be used as it is; the message lists every file-level problem."""


@dataclass(frozen=True)
class FileCheck:
    """One file (or hub set) read for one field of the sweep file."""

    where: str
    """The field that names it, e.g. ``data.sources.mine``."""
    source: str
    report: LoadReport | None = None
    note: str = ""
    """Why there is no report (a hub set that is not cached), or the file-level problem found."""

    def lines(self) -> list[str]:
        """``where  source: what was found``, then one line per kind of bad row."""
        head = f"{self.where}  {self.source}: "
        if self.report is None:
            return [head + self.note]
        report = self.report
        if not report.total:
            return [head + "no rows: the file is empty"]
        if not report.errors:
            return [head + f"{report.total} rows, all usable"]
        usable = len(report.examples)
        return [head + f"{len(report.errors)} of {report.total} rows unusable, {usable} usable"] + [
            f"  {line}" for line in report.details()]


@dataclass
class DataCheck:
    """Everything :func:`check_sweep_data` read, and the problems that stop the sweep (``problems``)."""

    files: list[FileCheck] = field(default_factory=list)
    strict: bool = False
    problems: list[str] = field(default_factory=list)

    def render(self, everything: bool = True) -> str:
        """The report: every file with ``everything`` (validate), else only those with something to say."""
        shown = [f for f in self.files if everything or f.note or (f.report is not None and f.report.errors)]
        if not shown:
            return ""
        skipped = any(f.report is not None and f.report.errors for f in shown) and not self.strict
        title = "  data files" + (" (unusable rows are skipped; data.strict: true stops instead)" if skipped else "")
        return "\n".join([title + ":", *(f"    {line}" for f in shown for line in f.lines())])

    def raise_if_unusable(self) -> None:
        """Raise :class:`DataCheckError` listing the problems, if there are any."""
        if self.problems:
            raise DataCheckError("the sweep's data cannot be used:\n" + "\n".join(f"  {p}" for p in self.problems))


def _candidates(space: dict[str, Any], path: str, value: Any) -> list[Any]:
    """The values a field takes across trials: every candidate of its search expression, else its own value."""
    domain = space.get(path)
    return list(dict.fromkeys(domain.candidates())) if domain is not None else [value]


def _read(where: str, source: str, load: Callable[[], LoadReport], check: DataCheck) -> LoadReport | None:
    """Run ``load``; a file-level error becomes a problem of the check instead of an exception."""
    try:
        report = load()
    except DataFileError as exc:
        check.files.append(FileCheck(where, source, note="cannot be used"))
        check.problems.append(f"{where}: {exc}")
        return None
    check.files.append(FileCheck(where, source, report))
    try:
        require_rows(report, where)
    except DataFileError as exc:
        check.problems.append(str(exc))
    return report


_CAMEL = (re.compile(r"([A-Z]+)([A-Z][a-z])"), re.compile(r"([a-z\d])([A-Z])"))


def hub_cached(name: str) -> bool:
    """Whether ``datasets`` has hub set ``name`` prepared in its local cache (the layout ``datasets`` falls back
    to offline: ``HF_DATASETS_CACHE/<namespace>___<snake_name>/<config>/<version>/<hash>``). Reads the
    directory only; ``datasets`` is not imported."""
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    root = Path(os.environ.get("HF_DATASETS_CACHE") or os.path.join(home, "datasets")).expanduser()
    parts = name.split("/")
    parts[-1] = _CAMEL[1].sub(r"\1_\2", _CAMEL[0].sub(r"\1_\2", parts[-1])).lower()
    try:
        return any(path.is_dir() for path in (root / "___".join(parts)).glob("*/*/*"))
    except (OSError, ValueError):
        return False


def load_hub_report(where: str, name: str, split: str, fmt: str, offline: bool = False) -> LoadReport:
    """Rows of hub set ``name`` through the loaders' checks; with ``offline`` nothing is fetched (the flags of
    ``datasets`` and ``huggingface_hub`` are set for the call only). Whatever ``datasets`` raises (no network,
    no such set, a gated set) becomes a :class:`DataFileError` naming ``where``."""
    from toolsweep.data.loaders import load_hub_dataset

    flags: list[tuple[Any, str, Any]] = []
    if offline:
        import datasets.config
        import huggingface_hub.constants

        flags = [(module, "HF_HUB_OFFLINE", module.HF_HUB_OFFLINE) for module in (datasets.config,
                                                                                 huggingface_hub.constants)]
        for module, attribute, _ in flags:
            setattr(module, attribute, True)
    try:
        return load_hub_dataset(name, split=split, fmt=fmt)
    except Exception as exc:  # noqa: BLE001 - a third-party loader: any failure means "cannot be read"
        text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise DataFileError(f"{where}: hub data set {name!r} (split {split!r}) cannot be loaded: {text}; check the "
                            "name and split, your network, and HF_TOKEN for a gated set") from None
    finally:
        for module, attribute, old in flags:
            setattr(module, attribute, old)


def _entries(sweep: Any) -> Iterator[tuple[str, Any, str]]:
    """``(where, config, dotted path of the config)`` for every source and evaluation set read from a file or the hub."""
    data = sweep.spec.data
    for name, source in data.sources.items():
        weights = _candidates(sweep.space, f"data.sources.{name}.weight", source.weight)
        if source.builtin is None and any(w != 0 for w in weights):
            yield f"data.sources.{name}", source, f"data.sources.{name}"
    if data.validation is not None:
        yield "data.validation", data.validation, "data.validation"
    for name, config in (data.test or {}).items():
        yield f"data.test.{name}", config, f"data.test.{name}"


def _check_entry(where: str, config: Any, dotted: str, sweep: Any, offline: bool, check: DataCheck) -> list[LoadReport]:
    from toolsweep.data.loaders import load_jsonl

    reports = []
    if getattr(config, "hub", None) is not None:
        source = f"hub {config.hub} ({config.split})"
        if offline and not hub_cached(config.hub):
            note = "not in the local datasets cache, so its rows are checked when a trial loads it"
            check.files.append(FileCheck(where, source, note=note))
            return []
        report = _read(where, source, lambda: load_hub_report(where, config.hub, config.split, config.format, offline),
                       check)
        return [report] if report is not None else []
    if getattr(config, "path", None) is None:
        return []  # builtin, holdout or bfcl: nothing of the user's to read
    for path in _candidates(sweep.space, f"{dotted}.path", config.path):
        for fmt in _candidates(sweep.space, f"{dotted}.format", config.format):
            report = _read(where, str(path), lambda p=path, f=fmt: load_jsonl(p, f), check)
            reports += [report] if report is not None else []
    return reports


def _check_holdout(sweep: Any, sources: dict[str, list[LoadReport]], check: DataCheck) -> None:
    """What the holdout leaves, split exactly as a trial splits it: training rows in every source, rows in every set."""
    from toolsweep.data.eval_sets import holdout_split
    from toolsweep.data.prepare import evaluation_configs

    validation, tests = evaluation_configs(sweep.spec.data)
    fractions = [c.holdout for c in (validation, *tests.values()) if c.holdout is not None]
    if not fractions:
        return
    held = [0] * len(fractions)
    for where, reports in sources.items():
        for report in reports:
            kept, shares = holdout_split(report.examples, fractions)
            if report.examples and not kept:
                check.problems.append(f"{where}: the holdout ({', '.join(map(str, fractions))}) leaves no training "
                                      f"rows of {report.path}; lower the fractions or add rows")
            held = [n + len(share) for n, share in zip(held, shares, strict=True)]
    if any(sources.values()) and not all(held):
        check.problems.append("the holdout leaves an evaluation set without rows; raise its fraction or add rows")


def check_sweep_data(sweep: Any, offline: bool = True) -> DataCheck:
    """Read every user data file of ``sweep`` (a :class:`toolsweep.config.loader.Sweep`) as a trial would.

    ``offline``: read hub sets only from the local cache (``toolsweep validate``); else fetch them as a trial
    would (``train``, ``run``). The result's ``problems`` are what stops the sweep; ``render()`` is the report."""
    from toolsweep.data.loaders import load_preference_jsonl, load_when2call_mcq

    spec = sweep.spec
    check = DataCheck(strict=any(_candidates(sweep.space, "data.strict", spec.data.strict)))
    sources: dict[str, list[LoadReport]] = {}
    for where, config, dotted in _entries(sweep):
        reports = _check_entry(where, config, dotted, sweep, offline, check)
        if where.startswith("data.sources."):
            sources[where] = reports
    if spec.data.preferences is not None:
        preferences = spec.data.preferences
        _read("data.preferences", preferences.path, lambda: load_preference_jsonl(preferences.path, preferences.format),
              check)
    if spec.eval.when2call is not None:
        _read("eval.when2call", spec.eval.when2call, lambda: load_when2call_mcq(spec.eval.when2call), check)
    _check_holdout(sweep, sources, check)
    bad = [f for f in check.files if f.report is not None and f.report.errors and f.report.examples]
    if check.strict and bad:
        names = ", ".join(f"{f.where} ({len(f.report.errors)} of {f.report.total})" for f in bad if f.report)
        check.problems.append(f"data.strict is true and these files have unusable rows: {names}; fix the rows listed "
                              "above, or set data.strict: false to skip them")
    return check
