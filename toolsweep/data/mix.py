"""Data mixes: a training set drawn from several named sources by weight.

A source is either a list of examples (user data loaded with ``loaders.py``) or a callable
``(count, seed) -> examples`` that builds exactly what is asked for, so built-in categories are
only generated when their weight is positive (``builtin_sources``); the mix passes its own seed,
so two draws with different seeds get different generated examples. Sweeps search over the weights, so
sampling is reproducible from the seed and the counts are exact proportions of ``n``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from toolsweep.config.vocabulary import TOOL_CALL_CATEGORIES
from toolsweep.data.generator import allocate, generate_examples, normalise_weights
from toolsweep.data.values import check_split

Source = list[dict] | Callable[[int, int], list[dict]]
"""A list of examples, or a function ``(count, seed)`` returning ``count`` fresh examples."""


def sample_mix(sources: dict[str, Source], weights: dict[str, float], n: int, seed: int) -> list[dict]:
    """Draw ``n`` examples, ``n * w / sum(w)`` from each source (largest-remainder rounding), shuffled.

    Weights need not sum to 1; a zero weight, or no weight, excludes a source. A list source
    smaller than its share is repeated in whole passes (each reshuffled), so no example appears
    more than once more often than another. A weight naming no source, an empty list with a
    positive weight and all-zero weights are errors.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    unknown = [name for name in weights if name not in sources]
    if unknown:
        raise ValueError(f"weights name unknown sources {unknown}; known sources: {', '.join(sources) or 'none'}")
    kept = normalise_weights(weights, tuple(sources), "source")
    counts = allocate(kept, n)
    rng = random.Random(f"{seed}|mix")
    drawn: list[dict] = []
    for name in kept:
        drawn.extend(_take(name, sources[name], counts[name], seed))
    rng.shuffle(drawn)
    return drawn


def _take(name: str, source: Source, count: int, seed: int) -> list[dict]:
    if count == 0:
        return []
    if callable(source):
        examples = source(count, seed)
        if len(examples) != count:
            raise ValueError(f"source {name!r} returned {len(examples)} examples, {count} were asked for")
        return examples
    if not source:
        raise ValueError(f"source {name!r} is empty but has a positive weight; give it weight 0 or add data")
    out: list[dict] = []
    while len(out) < count:
        rng = random.Random(f"{seed}|mix|{name}|{len(out)}")
        batch = list(source)
        rng.shuffle(batch)
        out.extend(batch[: count - len(out)])
    return out


def builtin_sources(split: str = "train", seed: int = 0, tools: list[dict] | None = None) -> dict[str, Source]:
    """One lazy source per built-in category (``simple``, ``multiple``, ``parallel``, ``irrelevance``, ``clarify``).

    ``tools`` defaults to the target catalogue. Each source generates only when sampled, and
    only as many examples as its share of the mix.
    """
    check_split(split)
    if tools is None:
        from toolsweep.data.catalogue import target_tools

        tools = target_tools()

    def make(category: str) -> Callable[[int, int], list[dict]]:
        return lambda count, mix_seed: generate_examples(tools, split, count, [category], seed + 7919 * mix_seed)

    return {category: make(category) for category in TOOL_CALL_CATEGORIES}


def mix_dataset(weights: dict[str, float], n: int, seed: int = 0, split: str = "train",
                user_sources: dict[str, list[dict]] | None = None, tools: list[dict] | None = None) -> list[dict]:
    """A mix of built-in categories and user sources, e.g. ``{"simple": 2, "parallel": 1, "my_data": 1}``.

    User source names must not shadow a built-in category name.
    """
    sources: dict[str, Source] = builtin_sources(split, seed, tools)
    for name, examples in (user_sources or {}).items():
        if name in sources:
            raise ValueError(f"user source {name!r} shadows a built-in category; rename it")
        sources[name] = examples
    return sample_mix(sources, weights, n, seed)

