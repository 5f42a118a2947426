"""Argument values drawn from very large spaces, partitioned by split so that test values never appear in
training.

Why very large: a small model lowers its loss faster by memorising each parameter's pool ("city" -> one of
80 cities) than by learning to copy the value from the request; the earlier hand-written pools of 20-700
values let the built-in base do exactly that. Here most values come from Faker (names, cities, streets,
companies in 14 Latin-script locales) or are composed from word lists and numbers, so a value rarely
recurs and copying is the only way to get it right.

Why a partition by *value*: hashing the value itself puts it in the same split everywhere, so a test
example can never contain a value that some training example used for another parameter. Buckets:
``bucket(v) in {0, 1, 2}`` -> train, ``3`` -> validation, ``4`` -> test. Integers use ``v % 5``, decimals
``round(v * 100) % 5``, strings CRC-32. A draw repeats until its value belongs to the asked split. Enum and
boolean values are a closed set fixed by the schema and shared by all splits.

Determinism: every draw takes its randomness from the caller's ``random.Random`` (Faker is re-seeded from
it), so the data is a function of the seed. Faker's output may change between its major versions, which is
why ``pyproject.toml`` pins a range.
"""

from __future__ import annotations

import datetime as _dt
import functools
import random
import zlib
from collections.abc import Callable

SPLITS: tuple[str, ...] = ("train", "validation", "test")
_BUCKET_TO_SPLIT = ("train", "train", "train", "validation", "test")
LOCALES: tuple[str, ...] = ("en_US", "en_GB", "en_IE", "en_AU", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL",
                            "pt_PT", "sv_SE", "da_DK", "pl_PL", "cs_CZ")


@functools.cache
def _faker_for(locale: str):
    from faker import Faker

    fake = Faker(locale)
    for provider in fake.providers:
        # Faker's it_IT address provider builds its city list from a set, so its order (and every city
        # drawn from it) changed with PYTHONHASHSEED: the same seed gave other data in another process.
        if isinstance(getattr(provider, "cities", None), list):
            provider.cities = sorted(provider.cities)
    return fake


def faker(rng: random.Random, locale: str | None = None):
    """A Faker of ``locale`` (default: drawn from LOCALES) re-seeded from ``rng``."""
    fake = _faker_for(locale or rng.choice(LOCALES))
    fake.seed_instance(rng.getrandbits(48))
    return fake


@functools.cache
def english_words() -> tuple[str, ...]:
    """Faker's en_US word list (~970 common English words), lower case, letters only."""
    words = _faker_for("en_US").get_words_list()
    return tuple(sorted({w.lower() for w in words if w.isalpha() and len(w) > 2}))


ROOMS = ("living room", "kitchen", "bedroom", "hallway", "porch", "garage", "office", "bathroom", "nursery",
         "patio", "attic", "basement", "guest room", "dining room", "study", "laundry room", "garden", "balcony",
         "playroom", "loft", "cellar", "workshop", "sunroom", "pantry", "entrance", "stairway", "terrace")
APPLIANCES = ("lamp", "lights", "fan", "heater", "light", "door lock", "speaker", "blinds", "kettle",
              "air purifier", "humidifier", "thermostat", "camera", "sprinkler", "TV", "radiator", "dehumidifier",
              "ceiling light", "floor lamp", "coffee maker", "dishwasher", "oven", "router", "projector")
EVENT_KINDS = ("review", "standup", "sync", "call", "kickoff", "planning", "workshop", "demo", "panel",
               "retro", "meeting", "lunch", "briefing", "interview", "training", "check-in", "offsite",
               "brainstorm", "presentation", "webinar", "dinner", "party", "class", "appointment")
PRODUCT_NOUNS = ("headphones", "keyboard", "backpack", "blender", "lamp", "kettle", "speaker", "jacket", "mouse",
                 "tent", "wallet", "umbrella", "camera", "charger", "sneakers", "mug", "notebook", "watch",
                 "bottle", "chair", "desk", "pillow", "scarf", "helmet", "drone", "monitor", "toaster", "vase")
TOPIC_NOUNS = ("policy", "prices", "research", "markets", "festivals", "elections", "technology", "health",
               "sports", "education", "energy", "transport", "startups", "climate", "science", "music", "travel")
FILE_EXTS = ("pdf", "txt", "docx", "csv", "xlsx", "md", "json", "png")


def _word(rng: random.Random) -> str:
    return rng.choice(english_words())


def _date(rng: random.Random) -> str:
    return (_dt.date(2020, 1, 1) + _dt.timedelta(days=rng.randrange(366 * 20))).isoformat()


def _no_commas(make: Callable[[random.Random], str]) -> Callable[[random.Random], str]:
    """Values are written into requests as-is; a comma would read as a list separator."""
    def draw(rng: random.Random) -> str:
        while True:
            value = make(rng).strip()
            if value and "," not in value and "'" not in value and '"' not in value:
                return value
    return draw


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "city": _no_commas(lambda rng: faker(rng).city()),
    "person": _no_commas(lambda rng: faker(rng).first_name()),
    "full_name": _no_commas(lambda rng: (f := faker(rng)).first_name() + " " + f.last_name()),
    "email": lambda rng: (f := faker(rng, "en_US")).user_name() + "@" + f.domain_name(),
    "phone": lambda rng: f"+{rng.randint(1, 99)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
    "company": _no_commas(lambda rng: faker(rng).last_name() + " " + rng.choice(
        ("Labs", "Group", "Inc", "Partners", "Systems", "Foods", "Media", "Logistics", "Bank", "Studio"))),
    "ticker": lambda rng: "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(2, 4))),
    "currency": lambda rng: faker(rng, "en_US").currency_code(),
    "account": lambda rng: f"ACC-{rng.randint(1000, 999999)}",
    "order_id": lambda rng: f"ORD-{rng.randint(10000, 9999999)}",
    "coupon": lambda rng: f"{_word(rng).upper()}{rng.choice((5, 10, 15, 20, 25, 30, 40, 50))}",
    "product": lambda rng: f"{_word(rng)} {rng.choice(PRODUCT_NOUNS)}",
    "event_title": lambda rng: f"{_word(rng)} {rng.choice(EVENT_KINDS)}",
    "message": lambda rng: " ".join(_word(rng) for _ in range(rng.randint(3, 7))),
    "folder": lambda rng: _word(rng) if rng.random() < 0.5 else f"{_word(rng)}/{rng.randint(2015, 2035)}",
    "file_path": lambda rng: f"{_word(rng)}/{_word(rng)}_{rng.randint(2015, 2035)}.{rng.choice(FILE_EXTS)}",
    "file_query": _word,
    "place": _no_commas(lambda rng: faker(rng).street_name()),
    "topic": lambda rng: f"{_word(rng)} {rng.choice(TOPIC_NOUNS)}",
    "device": lambda rng: f"{rng.choice(ROOMS)} {rng.choice(APPLIANCES)}",
    "time": lambda rng: f"{rng.randint(0, 23):02d}:{rng.choice(range(0, 60, 5)):02d}",
    "date": _date,
    "flight": lambda rng: "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(2)) + str(rng.randint(10, 9999)),
    "word": _word,
    "code": lambda rng: "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(rng.randint(4, 8))),
}
"""Every string kind a parameter can draw from (a catalogue parameter names one of these)."""

POOLS: tuple[str, ...] = tuple(GENERATORS)


def value_split(value: object) -> str | None:
    """The split that owns ``value``; ``None`` for booleans (shared by all splits).

    Lists belong to the split of their elements (generated lists never mix splits).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        bucket = value % 5
    elif isinstance(value, float):
        bucket = round(value * 100) % 5
    elif isinstance(value, str):
        bucket = zlib.crc32(value.encode("utf-8")) % 5
    else:
        raise TypeError(f"value_split() takes bool, int, float or str, got {type(value).__name__}")
    return _BUCKET_TO_SPLIT[bucket]


def check_split(split: str) -> None:
    """Raise a ValueError naming the valid splits when ``split`` is not one of them."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")


def sample_int(rng: random.Random, low: int, high: int, split: str) -> int:
    """An integer in ``[low, high]`` (both inclusive) owned by ``split``."""
    if high - low < 4:
        raise ValueError(f"integer range {low}-{high} is too narrow to split; make it span >= 5 values")
    while True:
        value = rng.randint(low, high)
        if value_split(value) == split:
            return value


def sample_number(rng: random.Random, low: float, high: float, split: str) -> float:
    """A decimal with 2 places in ``[low, high]`` owned by ``split``, written the same in text and JSON.

    Both the text and the JSON argument use ``repr``; whole numbers are avoided so that a number
    parameter never looks like an integer.
    """
    while True:
        cents = rng.randint(round(low * 100), round(high * 100))
        value = cents / 100
        if cents % 100 and value_split(value) == split:
            return value


def sample_string(rng: random.Random, pool: str, split: str) -> str:
    """A fresh value of kind ``pool`` owned by ``split``; raises KeyError naming the known kinds."""
    if pool not in GENERATORS:
        raise KeyError(f"unknown value pool {pool!r}; known pools: {', '.join(sorted(GENERATORS))}")
    check_split(split)
    make = GENERATORS[pool]
    for _ in range(1000):
        value = make(rng)
        if value_split(value) == split:
            return value
    raise ValueError(f"value pool {pool!r} drew no value of split {split!r} in 1000 tries")


def render_value(value: object) -> str:
    """How an argument value is written in the user's text (exactly recoverable from it)."""
    if isinstance(value, list):
        items = [render_value(v) for v in value]
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    if isinstance(value, float):
        return repr(value)
    return str(value)
