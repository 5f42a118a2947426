"""Data for toolsweep: bundled tool catalogues, a seeded example generator, data mixes,
DPO preference pairs and loaders for user data. Records follow docs/data_contract.md."""

from toolsweep.config.vocabulary import REJECTION_KINDS, TOOL_CALL_CATEGORIES
from toolsweep.data.catalogue import (
    confusable_pairs,
    target_tools,
    templates_for,
    tool_domain,
    tools_by_domain,
)
from toolsweep.data.formats import example_to_xlam, spec_to_xlam_tool, xlam_tool_to_spec
from toolsweep.data.generator import builtin_dataset, generate_examples
from toolsweep.data.loaders import (
    DataValidationError,
    LoadReport,
    RowError,
    load_examples,
    load_hub_dataset,
    load_jsonl,
    write_jsonl,
)
from toolsweep.data.mix import builtin_sources, mix_dataset, sample_mix
from toolsweep.data.preferences import make_preference_pairs
from toolsweep.data.tool_validation import validate_arguments, validate_call
from toolsweep.data.values import SPLITS

__all__ = [
    "REJECTION_KINDS",
    "SPLITS",
    "TOOL_CALL_CATEGORIES",
    "DataValidationError",
    "LoadReport",
    "RowError",
    "builtin_dataset",
    "builtin_sources",
    "confusable_pairs",
    "example_to_xlam",
    "generate_examples",
    "load_examples",
    "load_hub_dataset",
    "load_jsonl",
    "make_preference_pairs",
    "mix_dataset",
    "sample_mix",
    "spec_to_xlam_tool",
    "target_tools",
    "templates_for",
    "tool_domain",
    "tools_by_domain",
    "validate_arguments",
    "validate_call",
    "write_jsonl",
    "xlam_tool_to_spec",
]
