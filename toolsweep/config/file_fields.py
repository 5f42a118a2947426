"""Every field of a sweep spec that can name a local file or folder.

Two things need the same list: ``load_sweep`` anchors relative paths where the command ran (trials run in
folders of their own), and ``toolsweep submit`` ships those files with the job. One list, so a new
file-valued field cannot be anchored but not shipped, or the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from toolsweep.config.schema import SweepSpec

__all__ = ["file_fields"]

Loc = tuple[Any, ...]


def file_fields(spec: SweepSpec) -> Iterator[tuple[Loc, str | None]]:
    """``(location, value)`` of each field that can name a local file or folder; values may be None or a name
    that is not a path (``builtin:...``, a hub id, ``zero2``): callers check what exists."""
    data = spec.data
    for name, source in data.sources.items():
        yield ("data", "sources", name, "path"), source.path
    sets = [(("data", "validation"), data.validation)] + [(("data", "test", n), s) for n, s in (data.test or {}).items()]
    for loc, evaluation in sets:
        if evaluation is not None:
            yield (*loc, "path"), evaluation.path
            yield (*loc, "bfcl_source"), evaluation.bfcl_source
    if data.preferences is not None:
        yield ("data", "preferences", "path"), data.preferences.path
    yield ("eval", "when2call"), spec.eval.when2call
    yield ("resources", "deepspeed"), spec.resources.deepspeed
    yield ("model", "chat_template"), spec.model.chat_template
    yield ("model", "name"), spec.model.name
