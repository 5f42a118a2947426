"""Random argument values for pretraining conversations, so the model must copy them.

Why: the generator draws values from finite pools, and a tiny model lowers its loss faster by
memorising each parameter's pool ("dish" -> "creamy ...") than by learning to copy from the request;
the shipped build (no augmentation) chose tools but recalled values. Replacing the copyable values
with random pseudo-words and numbers, in the request and in the call alike, leaves copying as the
only way to predict them. Measured: with ``random_value_rate=0.7`` copying had still not emerged
after 800-900 steps (2.9M params, batch 16), so the option is off by default; it is meant for
longer builds.

Replaced: strings and integers that appear verbatim in the user text and are not enums, dates or
times. A value used twice (parallel calls) gets the same replacement everywhere.

Names get the same treatment (``rename_tools``): the shipped base memorised its 42 pretraining tool
and parameter names, so on the target tools most name tokens the prompt spells out cost it 8-23 nats,
and SFT has to unlearn that. Measured on CPU (batch 16, lr 2e-3, 12 min): 1000 steps of continued
pretraining from the shipped weights with every name renamed (and 30 % of values) took the training
loss from 2.8 (mean of the first 250 steps) to 2.1, but the teacher-forced loss on the target tools
went from 6.6 to ~4.5 within 250 steps and stayed there, so name copying needs a longer (GPU) build.

After a full fine-tune on the target tools (500 steps), names and JSON cost ~0 nats but the words of a
copied value cost 5-17 nats per token (date digits 0-3): copying values is the one missing skill.
Continued pretraining of the shipped weights on conversations whose values are all random plus 0.5 copy drills per conversation
(1500 steps, lr 2e-3, 11 min on CPU) raised held-out teacher-forced exact from 0 to 2.7 %; even in
"Repeat exactly: Britrefil 962" drills the letters still cost 4-6 nats per token (digits < 2): no
induction-style copying has formed at this budget.

The architecture can copy: on random-token sequences repeated after a separator (5-16 tokens), a fresh
model of the shipped size forms induction heads in ~500-600 steps of 32 at lr 1e-3 (35 % exact at 900
steps, 90 s on CPU); at the build's lr 3e-3 it is much slower, and warm-started from the shipped weights
it does not form in 800 steps. But 1600 further steps of random-value conversations (lr 2e-3, a quarter
of the rows still drills) erased it (drill loss 0.83 -> 3.2) without teaching value copying (exact
2.7 %). At lr 1e-3 with half the rows drills the heads survive and sharpen (drill exact 35 -> 81 %),
yet the conversations still do not use them: held-out exact 0.7 %, and a value's first token costs
5-10 nats (finding where the value starts is the unsolved part). A next build needs a bridge between
raw-token drills and values inside conversations, and a GPU-sized budget.

With a GPU-sized budget copying does form. A build on an H100 (6500 steps of 32, lr 2e-3,
``random_value_rate=0.5``, ``copy_drill_rate=0.2``, 40000 conversations, so ~5 epochs) scored, greedy, on
100 unseen conversations of its pretraining catalogue: 94 % exact with the generator's values, **75 %**
with random values (the shipped base: 12 % and 8 %), so it copies values it never saw. It does not
generalise beyond what it saw: 18 % on held-out phrasings (tool selection 39 %), 12 % with renamed tools,
and on the target tools 7 % exact and 68 % well-formed. 600 CPU steps of ``rename_rate=1.0`` from it
(lr 1e-3) did not teach name copying (12 -> 13 % on renamed tools) and cost value copying (75 -> 33 %).
The limit is now generalisation to new phrasings and names, which needs far more varied pretraining text.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Iterable

__all__ = ["copy_drill", "pseudo_value", "randomise_values", "rename_tools"]

_ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "st", "tr", "pl", "gr", "ch", "sh", "th"]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ou", "ee"]
_CODAS = ["", "", "", "n", "r", "s", "l", "m", "t", "x", "nd", "rk"]
_DATE_OR_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}:\d{2}$")


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(1, 3))) + rng.choice(_CODAS)


def pseudo_value(original: str | int, rng: random.Random) -> str | int:
    """A random value of the same kind: an integer of at most as many digits, or 1-3 pseudo-words."""
    if isinstance(original, int):
        return rng.randint(0, 10 ** len(str(original)) - 1)
    words = [_word(rng) for _ in range(rng.randint(1, 3))]
    style = rng.random()
    if style < 0.4:
        words = [w.capitalize() for w in words]
    elif style < 0.5:
        words = [w.upper() for w in words]
    return " ".join(words)


def _pattern(value: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.])" + re.escape(value) + r"(?![\w])")


def _copyable(value: object, schema: dict) -> bool:
    if "enum" in schema or isinstance(value, bool):
        return False
    if isinstance(value, int):
        return schema.get("type") == "integer"
    return isinstance(value, str) and bool(value) and not _DATE_OR_TIME.match(value)


def randomise_values(example: dict, rng: random.Random) -> dict:
    """A copy of ``example`` whose copyable argument values are random (request and calls alike)."""
    example = copy.deepcopy(example)
    user = next((m for m in example["messages"] if m["role"] == "user"), None)
    calls = [c for m in example["messages"] if m["role"] == "assistant" for c in m.get("tool_calls") or []]
    if user is None or not calls:
        return example
    schemas = {t["function"]["name"]: t["function"]["parameters"].get("properties", {}) for t in example["tools"]}
    mapping: dict[str, str | int] = {}
    text = user["content"]
    for call in calls:
        fn = call["function"]
        for key, value in fn["arguments"].items():
            if not _copyable(value, schemas.get(fn["name"], {}).get(key, {})):
                continue
            if str(value) not in mapping:
                pattern = _pattern(str(value))
                if not pattern.search(text):
                    continue
                new = pseudo_value(value, rng)
                if _pattern(str(new)).search(text) or any(str(new) == str(v) for v in mapping.values()):
                    continue
                mapping[str(value)] = new
                text = pattern.sub(lambda _m, s=str(new): s, text)
            fn["arguments"][key] = type(value)(mapping[str(value)]) if isinstance(value, int) else mapping[str(value)]
    user["content"] = text
    return example


def copy_drill(tools: list[dict], rng: random.Random) -> dict:
    """A short conversation whose answer is copied from the request: an echo, or a spelled-out call.

    Why: in ordinary conversations only ~30 tokens per example carry loss, too few for a tiny model to
    discover copying within a CPU-sized build. Drills make nearly every loss token a copy of an earlier
    one, which is the signal that makes attention heads learn to look back and copy; the ordinary
    conversations then teach where to use it.
    """
    tool = rng.choice(tools)
    fn = tool["function"]
    if rng.random() < 0.5:
        words = str(pseudo_value("x" * rng.randint(1, 3), rng)) + " " + str(rng.randint(0, 9999))
        return {"tools": [tool], "messages": [{"role": "user", "content": f"Repeat exactly: {words}"},
                                              {"role": "assistant", "content": words}]}
    properties = fn["parameters"].get("properties", {})
    args: dict[str, str | int] = {}
    for name, schema in properties.items():
        if rng.random() < 0.7 or name in fn["parameters"].get("required", []):
            args[name] = rng.randint(0, 999) if schema.get("type") == "integer" else str(pseudo_value("x y", rng))
    spelled = ", ".join(f"{k} {v}" for k, v in args.items())
    call = {"type": "function", "function": {"name": fn["name"], "arguments": args}}
    return {"tools": [tool], "messages": [{"role": "user", "content": f"Call {fn['name']} with {spelled}."},
                                          {"role": "assistant", "content": "", "tool_calls": [call]}]}


def _identifier(rng: random.Random, taken: Iterable[str]) -> str:
    """A random snake_case identifier of 1-3 pseudo-words, not among ``taken``."""
    taken = set(taken)
    while (name := "_".join(_word(rng) for _ in range(rng.randint(1, 3)))) in taken:
        pass
    return name


def rename_tools(example: dict, rng: random.Random) -> dict:
    """A copy of ``example`` whose tool and parameter names are random identifiers (schema and calls alike).

    Descriptions stay, so the right tool is still the one whose description fits the request; its
    name and its parameters' names can then only be copied from the tool list in the prompt.
    Parameter names are unique within a tool; tool names within the example.
    """
    example = copy.deepcopy(example)
    names: dict[str, str] = {}
    params: dict[str, dict[str, str]] = {}
    for tool in example["tools"]:
        fn = tool["function"]
        new = _identifier(rng, names.values())
        names[fn["name"]] = new
        schema = fn["parameters"]
        mapping: dict[str, str] = {}
        for key in schema.get("properties", {}):
            mapping[key] = _identifier(rng, mapping.values())
        schema["properties"] = {mapping[k]: v for k, v in schema.get("properties", {}).items()}
        if "required" in schema:
            schema["required"] = [mapping[k] for k in schema["required"]]
        fn["name"] = new
        params[new] = mapping
    for message in example["messages"]:
        for call in message.get("tool_calls") or []:
            fn = call["function"]
            fn["name"] = names[fn["name"]]
            fn["arguments"] = {params[fn["name"]][k]: v for k, v in fn["arguments"].items()}
    return example
