"""Data mixes: proportions, reproducibility, zero weights, laziness and errors."""

from __future__ import annotations

import pytest

from toolsweep.data import builtin_sources, mix_dataset, sample_mix


def _source(name, size):
    return [{"id": f"{name}-{i}", "category": name} for i in range(size)]


def _count(examples):
    out = {}
    for e in examples:
        out[e["category"]] = out.get(e["category"], 0) + 1
    return out


def test_proportions_and_reproducibility():
    sources = {"a": _source("a", 500), "b": _source("b", 500), "c": _source("c", 500)}
    mixed = sample_mix(sources, {"a": 2, "b": 1, "c": 1}, 400, seed=3)
    counts = _count(mixed)
    assert abs(counts["a"] / 400 - 0.5) < 0.01 and abs(counts["b"] / 400 - 0.25) < 0.01
    assert mixed == sample_mix(sources, {"a": 2, "b": 1, "c": 1}, 400, seed=3)
    assert mixed != sample_mix(sources, {"a": 2, "b": 1, "c": 1}, 400, seed=4)
    assert len({e["id"] for e in mixed}) == 400
    assert [e["category"] for e in mixed[:20]] != sorted(e["category"] for e in mixed[:20])


def test_zero_weight_excludes_and_small_sources_repeat_evenly():
    sources = {"a": _source("a", 3), "b": _source("b", 10)}
    mixed = sample_mix(sources, {"a": 1, "b": 0}, 10, seed=0)
    assert _count(mixed) == {"a": 10}
    ids = [e["id"] for e in mixed]
    assert max(ids.count(i) for i in set(ids)) - min(ids.count(i) for i in set(ids)) <= 1


def test_errors_name_the_weights():
    sources = {"a": _source("a", 3), "b": []}
    with pytest.raises(ValueError, match=r"all source weights are zero \(\{'a': 0, 'b': 0\}\)"):
        sample_mix(sources, {"a": 0, "b": 0}, 5, seed=0)
    with pytest.raises(ValueError, match="unknown sources \\['c'\\]"):
        sample_mix(sources, {"c": 1}, 5, seed=0)
    with pytest.raises(ValueError, match="source 'b' is empty"):
        sample_mix(sources, {"b": 1}, 5, seed=0)
    with pytest.raises(ValueError, match="must be a number >= 0"):
        sample_mix(sources, {"a": -1}, 5, seed=0)


def test_builtin_sources_are_lazy():
    calls = []
    sources = builtin_sources("train", seed=0)
    sources["parallel"] = lambda n, seed: calls.append(n) or []
    mixed = sample_mix(sources, {"simple": 1, "parallel": 0}, 30, seed=0)
    assert calls == [] and _count(mixed) == {"simple": 30}
    again = sample_mix(sources, {"simple": 1}, 30, seed=1)
    assert {e["messages"][0]["content"] for e in again} != {e["messages"][0]["content"] for e in mixed}


def test_mix_dataset_with_user_source():
    user = [{"id": f"u{i}", "category": "user", "tools": [], "messages": []} for i in range(5)]
    mixed = mix_dataset({"simple": 1, "irrelevance": 1, "mine": 2}, 40, seed=1, user_sources={"mine": user})
    assert _count(mixed) == {"simple": 10, "irrelevance": 10, "user": 20}
    assert mixed == mix_dataset({"simple": 1, "irrelevance": 1, "mine": 2}, 40, seed=1, user_sources={"mine": user})
    with pytest.raises(ValueError, match="shadows a built-in category"):
        mix_dataset({"simple": 1}, 4, user_sources={"simple": user})
