"""Seeded generator of conversational tool-calling examples (see docs/data_contract.md).

Categories:
- ``simple``: one call; 1-3 tools offered.
- ``multiple``: one call; 3-8 tools offered, distractors chosen confusable-first, then same domain.
- ``parallel``: 2-3 calls in one message (the same tool with different values, or different tools).
- ``irrelevance``: no offered tool fits (an off-topic query, or a request for a tool of another
  domain that is not offered); the answer is a short text and has no ``tool_calls`` key.
- ``clarify``: the right tool is offered but the request leaves out one of its required free-form values;
  the answer asks for it (When2Call's "ask a follow-up question") and has no ``tool_calls`` key. The row's
  ``clarify`` field records the intended tool, the missing parameter and the given arguments, which DPO
  turns into its "invented a value instead of asking" rejection.

Splits never share free-form argument values (``values.py``), so a validation or test example is a
tool × values × phrasing combination no training example had. Phrasing is chosen separately: ``seen``
templates are the ones training uses (the headline validation and test sets), ``unseen`` templates are
held out of training altogether (the ``unseen_phrasing`` evaluation slice). Example ``k`` of a category
depends only on ``(seed, split, phrasing, category, k)``, so growing ``n`` keeps earlier examples.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

from toolsweep.config.vocabulary import TOOL_CALL_CATEGORIES
from toolsweep.data.catalogue import ToolEntry, confusables_of, target_tools, tool_entry, tool_name
from toolsweep.data.templates import (
    clarifying_question,
    join_requests,
    off_topic_query,
    omit_value,
    refusal,
    render_request,
)
from toolsweep.data.values import check_split

DEFAULT_CATEGORY_WEIGHTS: dict[str, float] = {"simple": 0.35, "multiple": 0.25, "parallel": 0.15,
                                             "irrelevance": 0.15, "clarify": 0.1}
"""Category weights used by ``builtin_dataset`` when none are given."""


def normalise_weights(weights: dict[str, float] | list[str] | tuple[str, ...], known: tuple[str, ...] | None,
                      what: str) -> dict[str, float]:
    """Check a weights mapping (or a list meaning equal weights) and drop zero weights.

    ``what`` names one key in messages (e.g. ``"category"``, ``"source"``).

    Raises ValueError naming the offending key or the weights when they are unknown, negative or all zero.
    """
    if isinstance(weights, (list, tuple)):
        weights = {name: 1.0 for name in weights}
    if not isinstance(weights, dict) or not weights:
        raise ValueError(f"{what} weights must be a non-empty dict of weights or list of names, got {weights!r}")
    for name, weight in weights.items():
        if known is not None and name not in known:
            raise ValueError(f"unknown {what} {name!r}; use one of {', '.join(known)}")
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
            raise ValueError(f"weight of {name!r} must be a number >= 0, got {weight!r}")
    kept = {name: float(w) for name, w in weights.items() if w > 0}
    if not kept:
        raise ValueError(f"all {what} weights are zero ({weights}); give at least one a positive weight")
    return kept


def allocate(weights: dict[str, float], n: int) -> dict[str, int]:
    """Split ``n`` into integer counts proportional to ``weights`` (largest remainder; ties by order)."""
    total = sum(weights.values())
    exact = {name: n * w / total for name, w in weights.items()}
    counts = {name: int(x) for name, x in exact.items()}
    order = sorted(weights, key=lambda name: -(exact[name] - counts[name]))
    for name in order[: n - sum(counts.values())]:
        counts[name] += 1
    return counts


def generate_examples(tools: list[dict] | list[ToolEntry], split: str, n: int,
                      categories: dict[str, float] | list[str] | None = None, seed: int = 0,
                      phrasing: str = "seen", off_topic: bool = True) -> list[dict]:
    """Generate ``n`` examples over ``tools``, seeded: values owned by ``split``, phrasing templates of
    ``phrasing`` (``seen``: those training uses; ``unseen``: the held-out ones).

    ``tools`` are bundled catalogue specs, or :class:`ToolEntry` objects (e.g. procedurally generated
    tools). ``categories`` maps category -> weight (or lists categories, equal weights); counts are exact
    proportions of ``n`` (largest remainder) and the categories are interleaved deterministically.
    Without ``off_topic``, irrelevance examples only ask for tools that are not offered (the built-in base's
    pretraining leaves refusing chit-chat to SFT).
    """
    check_split(split)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    weights = normalise_weights(categories or DEFAULT_CATEGORY_WEIGHTS, TOOL_CALL_CATEGORIES, "category")
    if not tools:
        raise ValueError("tools is empty; pass e.g. target_tools()")
    entries = [t if isinstance(t, ToolEntry) else tool_entry(tool_name(t)) for t in tools]
    offered = {e.name: e.spec for e in entries}
    if "multiple" in weights and len(entries) < 3:
        raise ValueError(f"category 'multiple' needs >= 3 tools, got {len(entries)}")
    counts = allocate(weights, n)
    offer = _Offer(entries)
    order = [c for c in weights for _ in range(counts[c])]
    random.Random(f"{seed}|{split}|order").shuffle(order)
    seen: dict[str, int] = {}
    examples = []
    for category in order:
        k = seen[category] = seen.get(category, -1) + 1
        rng = random.Random(f"{seed}|{split}|{phrasing}|{category}|{k}")
        example = _BUILDERS[category](_Draw(offer, split, phrasing, rng, off_topic))
        example["tools"] = [copy.deepcopy(offered[name]) for name in example["tools"]]
        slice_tag = "" if phrasing == "seen" else f"{phrasing}-"
        examples.append({"id": f"{split}-{slice_tag}{category}-{k:06d}", "category": category, **example})
    return examples


def _call(name: str, args: dict) -> dict:
    return {"type": "function", "function": {"name": name, "arguments": args}}


def _calls_message(calls: list[dict]) -> dict:
    return {"role": "assistant", "content": "", "tool_calls": calls}


class _Offer:
    """The catalogue an example is drawn from, indexed once per ``generate_examples`` call.

    Why: a distractor or irrelevance draw picks from every other tool, and rebuilding those lists per
    example made a build's data generation O(n_tools) Python work per row (38 min for 96,000 rows over 16,000
    tools). The lists are now sliced out of the catalogue around a few excluded positions; the random draws
    are exactly those of the plain filtering, so the data is unchanged.
    """

    def __init__(self, entries: list[ToolEntry]) -> None:
        self.entries = entries
        self._at: dict[str, list[int]] = {}
        self._domain: dict[str, list[int]] = {}
        for i, e in enumerate(entries):
            self._at.setdefault(e.name, []).append(i)
            self._domain.setdefault(e.domain, []).append(i)
        self._askable: list[ToolEntry] | None = None

    def positions(self, names: set[str] | list[str]) -> list[int]:
        return sorted(i for n in set(names) for i in self._at.get(n, ()))

    def without(self, excluded: list[int]) -> list[ToolEntry]:
        """The catalogue in order, less the (sorted) positions ``excluded``: a fresh list."""
        out: list[ToolEntry] = []
        start = 0
        for i in excluded:
            out.extend(self.entries[start:i])
            start = i + 1
        out.extend(self.entries[start:])
        return out

    def other_domains(self, domain: str, names: set[str]) -> list[ToolEntry]:
        """Tools of other domains than ``domain`` whose names are not in ``names``, in catalogue order."""
        return self.without(sorted(set(self._domain.get(domain, ())) | set(self.positions(names))))

    def same_domain(self, domain: str, names: set[str]) -> list[ToolEntry]:
        return [self.entries[i] for i in self._domain.get(domain, ()) if self.entries[i].name not in names]

    @property
    def askable(self) -> list[ToolEntry]:
        """Tools with a required free-form value, which a clarify row can leave out."""
        if self._askable is None:
            self._askable = [e for e in self.entries
                             if any(p.required and p.kind not in ("enum", "bool") for p in e.params)]
        return self._askable


def _distractors(target: ToolEntry, offer: _Offer, k: int, rng: random.Random,
                 confusable_first: bool) -> list[str]:
    if not confusable_first:
        others = offer.without(offer.positions([target.name]))
        return [e.name for e in rng.sample(others, min(k, len(others)))]
    close = set(confusables_of(target.name)) - {target.name}
    groups = [[offer.entries[i] for i in offer.positions(close)],
              offer.same_domain(target.domain, close | {target.name}),
              offer.other_domains(target.domain, close | {target.name})]
    ranked: list[str] = []
    for group in groups:
        rng.shuffle(group)  # every group is shuffled, needed or not: the draws after it stay the same
        ranked.extend(e.name for e in group[:max(0, k - len(ranked))])
    return ranked


@dataclass(frozen=True)
class _Draw:
    """What one example is drawn from: the offered catalogue, the split owning its values, the phrasing
    its templates come from, and its own seeded random stream."""

    offer: _Offer
    split: str
    phrasing: str
    rng: random.Random
    off_topic: bool = True

    @property
    def entries(self) -> list[ToolEntry]:
        return self.offer.entries

    def request(self, entry: ToolEntry, avoid: list[dict] | None = None) -> tuple[str, dict]:
        return render_request(entry, self.split, self.rng, avoid=avoid, phrasing=self.phrasing)


def _single(draw: _Draw, n_tools: int, confusable_first: bool) -> dict:
    rng = draw.rng
    target = rng.choice(draw.entries)
    text, args = draw.request(target)
    names = [target.name] + _distractors(target, draw.offer, n_tools - 1, rng, confusable_first)
    rng.shuffle(names)
    return {"tools": names, "messages": [{"role": "user", "content": text},
                                         _calls_message([_call(target.name, args)])]}


def _simple(draw: _Draw) -> dict:
    return _single(draw, draw.rng.randint(1, 3), confusable_first=False)


def _multiple(draw: _Draw) -> dict:
    return _single(draw, draw.rng.randint(3, min(8, len(draw.entries))), confusable_first=True)


def _parallel(draw: _Draw) -> dict:
    rng, entries = draw.rng, draw.entries
    n_calls = 2 if rng.random() < 0.8 else 3
    if rng.random() < 0.5 or len(entries) < n_calls:
        chosen = [rng.choice(entries)] * n_calls
    else:
        chosen = rng.sample(entries, n_calls)
    try:
        texts, calls = _parallel_requests(chosen, draw)
    except ValueError:
        # A tool whose split holds a single value of its only free parameter cannot be asked for
        # twice (e.g. an int range of 1-5 split by value): call different tools instead.
        chosen = rng.sample(entries, min(n_calls, len(entries)))
        texts, calls = _parallel_requests(chosen, draw)
    called = list(dict.fromkeys(e.name for e in chosen))
    pool = draw.offer.without(draw.offer.positions(called))
    names = called + [e.name for e in rng.sample(pool, min(rng.randint(0, 2), len(pool)))]
    rng.shuffle(names)
    return {"tools": names, "messages": [{"role": "user", "content": join_requests(texts, draw.phrasing, rng)},
                                         _calls_message(calls)]}


def _parallel_requests(chosen: list[ToolEntry], draw: _Draw) -> tuple[list[str], list[dict]]:
    texts: list[str] = []
    calls: list[dict] = []
    for entry in chosen:
        previous = [c["function"]["arguments"] for c in calls if c["function"]["name"] == entry.name]
        text, args = draw.request(entry, avoid=previous)
        texts.append(text)
        calls.append(_call(entry.name, args))
    return texts, calls


def _irrelevance(draw: _Draw) -> dict:
    rng, entries = draw.rng, draw.entries
    asked = rng.choice(entries)
    unrelated = draw.offer.other_domains(asked.domain, set(confusables_of(asked.name)))
    if unrelated and (not draw.off_topic or rng.random() < 0.5):
        text, _ = draw.request(asked)
        pool = unrelated
    else:
        text, pool = off_topic_query(draw.phrasing, rng), entries
    names = [e.name for e in rng.sample(pool, min(rng.randint(1, 4), len(pool)))]
    return {"tools": names, "messages": [{"role": "user", "content": text},
                                         {"role": "assistant", "content": refusal(rng)}]}


def _clarify(draw: _Draw) -> dict:
    rng = draw.rng
    target = rng.choice(draw.offer.askable or draw.entries)
    text, args = draw.request(target)
    free = [p.name for p in target.params if p.required and p.kind not in ("enum", "bool")] or list(args)
    missing = rng.choice(free)
    names = [target.name] + _distractors(target, draw.offer, rng.randint(0, 2), rng, confusable_first=False)
    rng.shuffle(names)
    given = {k: v for k, v in args.items() if k != missing}
    return {"tools": names,
            "messages": [{"role": "user", "content": omit_value(text, args[missing])},
                         {"role": "assistant", "content": clarifying_question(missing)}],
            "clarify": {"tool": target.name, "missing": missing, "arguments": given}}


_BUILDERS = {"simple": _simple, "multiple": _multiple, "parallel": _parallel, "irrelevance": _irrelevance,
             "clarify": _clarify}


def builtin_dataset(split: str, n: int, categories: dict[str, float] | list[str] | None = None,
                    seed: int = 0, phrasing: str = "seen") -> list[dict]:
    """``n`` examples of ``split`` over the target catalogue (the default data of a sweep)."""
    return generate_examples(target_tools(), split, n, categories, seed, phrasing)
