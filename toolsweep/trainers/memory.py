"""Give freed heap memory back to the operating system during CPU training.

Why: batches of varying length (length-grouped SFT, DPO pairs, the built-in model's build) allocate tensors
of a different size at every step, and glibc keeps the freed blocks in its heap instead of returning them.
Measured on this project's CPU (a 2.9M-parameter model, batch 32, lengths 100-500): resident memory grew
from 1.2 to 4.6 GB in 60 steps; with ``malloc_trim`` every 10 steps it stayed at 1.2 GB. The longest builds
reached 14 GB without it, enough to get a concurrent sweep's trials killed by Ray's memory monitor.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

__all__ = ["TRIM_EVERY_STEPS", "release_freed_memory"]

TRIM_EVERY_STEPS = 10
"""Steps between trims in CPU training loops (the measurement above: 1.2 GB held with a trim every 10 steps)."""


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim  # glibc only; musl and macOS have no malloc_trim
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> bool:
    """Return the heap's free pages to the OS (glibc ``malloc_trim``); False where the C library has none."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
