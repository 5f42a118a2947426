"""Phrasing: turning a tool's template and drawn argument values into a user request.

Every value is written into the text exactly as it appears in the call's arguments (see
``values.render_value``), so a model can only get arguments right by copying them from the query.
Connectors (for parallel requests) and off-topic queries (for irrelevance) are partitioned like the tool
templates: item ``i`` is ``seen`` (used in training and in the headline validation and test sets) when
``i % 5 < 3`` and ``unseen`` (the held-out ``unseen_phrasing`` slice) otherwise. Values are partitioned
separately, by split (``values.py``).
"""

from __future__ import annotations

import random
import re

from toolsweep.data.catalogue import ParamSpec, ToolEntry, phrasing_items
from toolsweep.data.values import render_value, sample_int, sample_number, sample_string

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_BOOL_SEGMENT = re.compile(r"^\?(\w+):([^|]*)\|(.*)$")
OPTIONAL_PROBABILITY = 0.5
"""Chance that a template's optional clause (and so its optional argument) is used."""

CONNECTORS: tuple[str, ...] = (
    "{a} Also: {b}",
    "{a} {b}",
    "Two things. {a} {b}",
    "{a} Next request: {b}",
    "{a} And another one: {b}",
    "{a} One more thing. {b}",
    "{a} Plus: {b}",
    "{a} Then: {b}",
    "{a} Additionally: {b}",
    "I have several requests. {a} {b}",
)

OFF_TOPIC_QUERIES: tuple[str, ...] = (
    "Tell me a joke about penguins.", "What is the capital of Peru?", "Write a haiku about autumn.",
    "Who painted the Mona Lisa?", "Explain photosynthesis in one sentence.", "What's 17 times 23?",
    "How many legs does a spider have?", "Give me a fun fact about octopuses.", "Who wrote Hamlet?",
    "What does 'ephemeral' mean?", "Suggest a name for my goldfish.", "Why is the sky blue?",
    "How tall is Mount Everest?", "What's a good icebreaker question?", "Summarize the plot of Cinderella.",
    "What is the boiling point of water in Kelvin?", "Recommend a board game for four players.",
    "How do magnets work?", "What year did the Berlin Wall fall?", "Compose a limerick about a cat.",
    "What's the difference between a frog and a toad?", "Give me a tongue twister.",
    "How many continents are there?", "What rhymes with orange?", "Who discovered penicillin?",
)

REFUSALS: tuple[str, ...] = (
    "Sorry, I can't help with that using the available tools.",
    "Sorry, none of the available tools can do that.",
    "Sorry, no available tool fits this request.",
)
"""One opening word for every refusal: greedy decoding takes the single likeliest first token, and a refusal
spread over three openers lost to ``<tool_call>`` even where refusing was likelier in sum (a fine-tuned tiny
model on its own training rows: 0.55 for the call, 0.17 + 0.15 + 0.12 for the openers)."""


CLARIFY_QUESTION = "Which {words} should I use?"
"""The answer to a request that lacks a required argument: one opening word, as for refusals, so that greedy
decoding meets three distinct first tokens for the three decisions (call, refuse, ask)."""
# Words a value usually follows in a request ("weather in {city}", "email to {to}"): dropped with it.
_LEAD_INS = frozenset({"in", "for", "to", "at", "from", "on", "of", "about", "with", "named", "called", "titled",
                       "saying", "by", "near", "into", "as", "under", "like", "is", "the"})


def param_words(name: str) -> str:
    """``departure_date`` / ``departureDate`` -> ``departure date``."""
    return " ".join(re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ").lower().split())


def clarifying_question(param: str) -> str:
    """The question that asks for a missing required argument."""
    return CLARIFY_QUESTION.format(words=param_words(param))


def omit_value(text: str, value: object) -> str:
    """``text`` without ``value`` (as the request writes it) and the lead-in word before it: the request a user
    makes when they forget that argument ("What's the weather in Lyon?" -> "What's the weather?")."""
    written = render_value(value)
    start = text.find(written)
    if start < 0:
        raise ValueError(f"{written!r} does not occur in {text!r}")
    before, after = text[:start].rstrip(" '\""), text[start + len(written):].lstrip("'\"")
    words = before.split(" ")
    if len(words) > 1 and words[-1].lower() in _LEAD_INS:
        before = " ".join(words[:-1])
    joined = f"{before} {after}" if after[:1].isalnum() else before + after
    return re.sub(r"\s+([?.!,])", r"\1", re.sub(r"\s{2,}", " ", joined)).strip()


def draw_value(param: ParamSpec, rng: random.Random, split: str, avoid: set) -> object:
    """Draw a value for ``param`` owned by ``split``; strings and lists avoid ``avoid`` (keeps two
    params of one call, e.g. origin and destination, apart). Numbers may repeat: the narrow ranges of
    a split hold few of them and the template still says which is which."""
    for _ in range(100):
        if param.kind == "int":
            value: object = sample_int(rng, int(param.low), int(param.high), split)
        elif param.kind == "num":
            value = sample_number(rng, param.low, param.high, split)
        elif param.kind == "enum":
            value = rng.choice(param.options)
        elif param.kind == "bool":
            value = rng.random() < 0.5
        elif param.kind == "list":
            value, size = [], rng.choice((2, 2, 3))
            while len(value) < size:
                item = sample_string(rng, param.pool, split)
                if item not in value and item not in avoid:
                    value.append(item)
        else:
            value = sample_string(rng, param.pool, split)
        if param.kind in ("enum", "bool", "int", "num") or _key(value) not in avoid:
            return value
    raise ValueError(f"could not draw a fresh value for {param.name!r} in split {split!r}; the pool is too small")


def _key(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def render_request(entry: ToolEntry, split: str, rng: random.Random,
                   avoid: list[dict] | None = None, phrasing: str = "seen") -> tuple[str, dict]:
    """Phrase one request for ``entry`` with a template of ``phrasing`` and values of ``split``: returns
    ``(text, arguments)``.

    ``avoid`` lists argument dicts the result must differ from (for "same tool again" requests).
    Arguments are ordered as in the tool's schema.
    """
    templates = phrasing_items(entry.templates, phrasing)
    for _ in range(50):
        template = rng.choice(templates)
        text, args = _fill(entry, template, split, rng)
        if all(_differs(entry, args, other) for other in avoid or ()):
            return text, args
    raise ValueError(f"could not phrase two different requests for {entry.name!r}")


def _differs(entry: ToolEntry, args: dict, other: dict) -> bool:
    """True when two calls are distinct requests: they differ in a required free-form value (a
    changed unit or flag alone does not make a second request), or, for tools whose required
    parameters are all enums, in any value."""
    free = [p.name for p in entry.params if p.required and p.kind not in ("enum", "bool")]
    keys = free or list(args)
    return any(other.get(k) != args.get(k) for k in keys)


def _fill(entry: ToolEntry, template: str, split: str, rng: random.Random) -> tuple[str, dict]:
    values: dict[str, object] = {}
    used: set = set()

    def value_of(name: str) -> object:
        if name not in values:
            values[name] = draw_value(entry.param(name), rng, split, used)
            used.add(_key(values[name]))
        return values[name]

    for param in entry.params:
        if param.required:
            value_of(param.name)

    def segment(match: re.Match) -> str:
        body = match.group(1)
        if rng.random() >= OPTIONAL_PROBABILITY:
            return ""
        flag = _BOOL_SEGMENT.match(body)
        if flag:
            name, if_true, if_false = flag.groups()
            if name not in values:
                values[name] = rng.random() < 0.5
            return if_true if values[name] else if_false
        return body

    text = _SEGMENT.sub(segment, template)
    text = _PLACEHOLDER.sub(lambda m: render_value(value_of(m.group(1))), text)
    args = {p.name: values[p.name] for p in entry.params if p.name in values}
    return text, args


def join_requests(texts: list[str], phrasing: str, rng: random.Random) -> str:
    """Join several requests into one user message with connectors of ``phrasing``."""
    connectors = phrasing_items(CONNECTORS, phrasing)
    text = texts[0]
    for nxt in texts[1:]:
        text = rng.choice(connectors).format(a=text, b=nxt)
    return text


def off_topic_query(phrasing: str, rng: random.Random) -> str:
    """A query no catalogue tool can answer, of ``phrasing``."""
    return rng.choice(phrasing_items(OFF_TOPIC_QUERIES, phrasing))


def refusal(rng: random.Random) -> str:
    """A short assistant answer for a request no offered tool fits."""
    return rng.choice(REFUSALS)
