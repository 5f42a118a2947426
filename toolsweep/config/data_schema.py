"""The ``data`` section of a sweep file: training sources and their mix, DPO pairs, and the evaluation sets.

Split from ``schema.py`` (which re-exports every name) because evaluation sets brought enough of their own
rules (exactly one origin, holdouts that need a path/hub source and cannot add up to 1, set names that
cannot clash with metric names) to fill a module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from toolsweep.config.section import Section as _Section
from toolsweep.config.vocabulary import (
    BFCL_CATEGORY_GROUPS,
    METRIC_NAMES,
    REJECTION_KINDS,
    TOOL_CALL_CATEGORIES,
    UNSEEN_PHRASING,
    BundledSet,
    RejectionKind,
    RowFormat,
    ToolCallCategory,
)

__all__ = ["EVAL_SET_ORIGINS", "REJECTION_KINDS", "TOOL_CALL_CATEGORIES", "DataConfig", "DataSource",
           "EvalSet", "PreferenceFile"]


class DataSource(_Section):
    builtin: ToolCallCategory | None = Field(
        None, description="A category of the bundled tool-calling data set."
    )
    path: str | None = Field(None, description="A local JSONL file of your own examples.")
    hub: str | None = Field(None, description="A `datasets.load_dataset` name (needs network).")
    split: str = Field("train", description="Split to read from a hub data set.")
    format: RowFormat = Field("messages", description="Row format of `path`/`hub` data.")
    weight: float = Field(1.0, ge=0, description="Sampling weight of this source in the training mix.")

    @model_validator(mode="after")
    def _exactly_one_origin(self) -> DataSource:
        given = [key for key in ("builtin", "path", "hub") if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of builtin, path, hub (got {given or 'none'})")
        if self.path is not None and not Path(self.path).expanduser().is_file():
            raise ValueError(f"data file {self.path!r} does not exist")
        return self


class EvalSet(_Section):
    """One evaluation set: exactly one of ``builtin``, ``path``, ``hub``, ``holdout`` or ``bfcl``."""

    builtin: BundledSet | None = Field(
        None, description="A held-out split of the bundled data set (unseen_phrasing: test rows worded with templates "
        "training never saw).")
    path: str | None = Field(None, description="A local JSONL file of your own examples.")
    hub: str | None = Field(None, description="A `datasets.load_dataset` name (needs network).")
    split: str = Field("test", description="Split to read from a hub data set.")
    format: RowFormat = Field("messages", description="Row format of `path`/`hub` data.")
    holdout: float | None = Field(
        None, gt=0, lt=1, description="This fraction of every path/hub training source, split off before the mix is "
        "sampled (stratified by tool, deterministic), so no row is ever in both training and evaluation.")
    bfcl: list[str] | None = Field(None, description="BFCL categories, e.g. [simple_python, multiple], read offline.")
    bfcl_source: str | None = Field(None, description="With bfcl: a bfcl-eval wheel or its data folder (default: "
                                    "$TOOLSWEEP_BFCL_WHEEL, else an installed bfcl_eval).")
    examples: int | None = Field(None, gt=0, description="Use at most this many rows (per category for bfcl); "
                                 "builtin sets default to data.validation_examples / data.test_examples.")

    @model_validator(mode="after")
    def _exactly_one_origin(self) -> EvalSet:
        given = [key for key in EVAL_SET_ORIGINS if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(EVAL_SET_ORIGINS)} (got {given or 'none'})")
        if self.path is not None and not Path(self.path).expanduser().is_file():
            raise ValueError(f"data file {self.path!r} does not exist")
        if self.bfcl is not None:
            unknown = [c for c in self.bfcl if c not in BFCL_CATEGORY_GROUPS]
            if unknown or not self.bfcl:
                raise ValueError(f"bfcl: unknown categories {unknown}; choose from "
                                 f"{', '.join(BFCL_CATEGORY_GROUPS)}")
        if self.bfcl_source is not None and self.bfcl is None:
            raise ValueError("bfcl_source needs bfcl (the categories to read)")
        return self


EVAL_SET_ORIGINS = ("builtin", "path", "hub", "holdout", "bfcl")
_METRIC_WORDS = frozenset({*METRIC_NAMES, "errors", "seconds"})


class PreferenceFile(_Section):
    path: str = Field(description="A JSONL file of preference rows.")
    format: Literal["when2call"] = Field("when2call", description="Row format: When2Call's train_pref layout.")

    @field_validator("path")
    @classmethod
    def _exists(cls, path: str) -> str:
        if not Path(path).expanduser().is_file():
            raise ValueError(f"data file {path!r} does not exist")
        return path


def _default_sources() -> dict[str, DataSource]:
    return {name: DataSource(builtin=name) for name in TOOL_CALL_CATEGORIES}


class DataConfig(_Section):
    sources: dict[str, DataSource] = Field(
        default_factory=_default_sources, description="Named training sources; weights set the mix."
    )
    train_examples: int = Field(800, gt=0, description="SFT examples sampled from the mix.")
    preference_pairs: int = Field(400, gt=0, description="DPO pairs built from the sampled examples.")
    validation_examples: int = Field(96, gt=0, description="Held-out examples for the final validation score.")
    test_examples: int = Field(200, gt=0, description="Held-out test examples for reports and export.")
    rejection_kinds: dict[RejectionKind, float] = Field(
        default_factory=lambda: dict.fromkeys(REJECTION_KINDS, 1.0),
        description="Weights of the failure kinds used as DPO 'rejected' answers.",
    )
    strict: bool = Field(False, description="Fail on a bad user-data row instead of skipping it.")
    preferences: PreferenceFile | None = Field(
        None, description="DPO pairs from a file (When2Call's train_pref rows) instead of built from the mix.")
    validation: EvalSet | None = Field(
        None, description="The set trials are compared on (val/...); default: the bundled validation split.")
    test: dict[str, EvalSet] | None = Field(
        None, description="Named test sets, each reported on its own: the first as test/..., every other as "
        "test/<name>/...; default: {test: bundled test, unseen_phrasing: its held-out wordings}.")

    @field_validator("sources")
    @classmethod
    def _non_empty(cls, sources: dict[str, DataSource]) -> dict[str, DataSource]:
        if not sources:
            raise ValueError("name at least one data source")
        if all(source.weight == 0 for source in sources.values()):
            raise ValueError("all mix weights are 0; give at least one source a weight > 0")
        return sources

    @model_validator(mode="after")
    def _evaluation_sets(self) -> DataConfig:
        sets = [self.validation, *(self.test or {}).values()]
        if any(s is not None and s.holdout is not None for s in sets):
            if not any(source.builtin is None and source.weight > 0 for source in self.sources.values()):
                raise ValueError("holdout splits your own training sources (path/hub), but every source is builtin")
            if sum(s.holdout or 0.0 for s in sets if s is not None) >= 1:
                raise ValueError("the holdout fractions of validation and test sets add up to 1 or more")
        for name in self.test or {}:
            if not name.isidentifier() or name in _METRIC_WORDS:
                raise ValueError(f"test set name {name!r}: use a word of letters, digits and _ that is not a metric "
                                 f"name ({', '.join(sorted(_METRIC_WORDS))})")
        if self.test == {}:
            raise ValueError("test: name at least one set, or leave it out for the bundled test split")
        return self

    def test_prefixes(self) -> dict[str, str]:
        """Each test set's metric prefix: the first set is the headline (``test``), the others ``test/<name>``."""
        names = list(self.test) if self.test else ["test", UNSEEN_PHRASING]
        return {name: "test" if i == 0 else f"test/{name}" for i, name in enumerate(names)}

    @field_validator("rejection_kinds")
    @classmethod
    def _kinds_positive(cls, kinds: dict[str, float]) -> dict[str, float]:
        if any(weight < 0 for weight in kinds.values()):
            raise ValueError("rejection kind weights must be >= 0")
        if not kinds or sum(kinds.values()) == 0:
            raise ValueError("give at least one rejection kind a weight > 0")
        return kinds
