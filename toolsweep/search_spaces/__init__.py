"""Search spaces as plain data (``Domain`` dataclasses), independent of Ray and Optuna."""

from toolsweep.search_spaces.domains import (
    EXPRESSION_KEYS,
    Choice,
    Domain,
    Grid,
    LogUniform,
    QUniform,
    RandInt,
    SearchSpaceError,
    Uniform,
    is_expression,
    parse_expression,
)

__all__ = [
    "EXPRESSION_KEYS",
    "Choice",
    "Domain",
    "Grid",
    "LogUniform",
    "QUniform",
    "RandInt",
    "SearchSpaceError",
    "Uniform",
    "is_expression",
    "parse_expression",
]
