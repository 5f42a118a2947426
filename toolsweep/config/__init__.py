"""Sweep files: YAML parsed once into a typed ``SweepSpec`` plus a search space of plain data."""

from toolsweep.config.errors import Problem, SweepFileError
from toolsweep.config.loader import Sweep, load_sweep, parse_overrides
from toolsweep.config.schema import SweepSpec

__all__ = ["Problem", "Sweep", "SweepFileError", "SweepSpec", "load_sweep", "parse_overrides"]
