"""Argument value pools, partitioned by split so that test values never appear in training.

Why a partition by *value* rather than by pool position: the same string (a city, a name) may
sit in several pools; hashing the value itself puts it in the same split everywhere, so a test
example can never contain a value that some training example used for another parameter.

Buckets: ``bucket(v) in {0, 1, 2}`` -> train, ``3`` -> validation, ``4`` -> test. Integers use
``v % 5`` (so any range of 5 consecutive integers covers every split), decimal numbers use
``round(v * 100) % 5``, strings use CRC-32. Enum and boolean values are a closed set fixed by the
schema and are shared by all splits.
"""

from __future__ import annotations

import datetime as _dt
import functools
import random
import zlib

SPLITS: tuple[str, ...] = ("train", "validation", "test")
_BUCKET_TO_SPLIT = ("train", "train", "train", "validation", "test")

def _words(text: str) -> list[str]:
    return text.split()


def _split_lines(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", "").split("|") if part.strip()]


_CITIES = _words("""Lyon Oslo Lisbon Porto Madrid Seville Berlin Munich Hamburg Vienna Prague Warsaw Krakow
Budapest Athens Rome Milan Naples Turin Zurich Geneva Brussels Antwerp Dublin Cork Edinburgh Glasgow
Leeds Bristol Helsinki Tallinn Riga Vilnius Stockholm Gothenburg Copenhagen Reykjavik Toronto Montreal
Vancouver Chicago Boston Denver Seattle Austin Dallas Miami Atlanta Phoenix Lima Quito Bogota Santiago
Nairobi Accra Lagos Cairo Tunis Casablanca Dubai Doha Mumbai Delhi Pune Chennai Bangkok Hanoi Manila
Jakarta Osaka Kyoto Sapporo Seoul Busan Taipei Sydney Perth Auckland Wellington""")
_MULTIWORD_CITIES = ["New York", "San Diego", "Los Angeles", "Buenos Aires", "Rio de Janeiro",
                     "Cape Town", "Hong Kong", "Kuala Lumpur", "Mexico City", "Salt Lake City"]
_FIRST_NAMES = _words("""Anna Ben Chloe David Emma Farid Grace Hugo Ines Jonas Kira Liam Maya Noah Olga Pablo
Quinn Rosa Sami Tara Uma Victor Wendy Xavier Yara Zoe Amir Bella Carlos Dina Elias Fatima Gustav Hana
Ivan Julia Kofi Lena Marco Nadia Omar Priya Rafael Sofia Tomas Vera Yusuf Zara Leo Mia""")
_LAST_NAMES = _words("""Martin Silva Novak Kowalski Rossi Dubois Jensen Berg Costa Ivanova Khan Tanaka Kim
Nguyen Garcia Okafor Haddad Larsen Moreau Weber""")
_MAIL_DOMAINS = ["example.com", "mail.net", "corp.org", "inbox.io", "work.dev"]
_COMPANIES = _words("""Acme Globex Initech Umbrella Stark Wayne Hooli Vandelay Soylent Cyberdyne Tyrell
Aperture Massive Monarch Oscorp Nakatomi Gringotts Wonka Duff Pied""")
_TICKERS = _words("""AAPL MSFT GOOG AMZN NVDA TSLA META NFLX INTC AMD ORCL IBM SAP ADBE CRM UBER SHOP SONY
TM NKE KO PEP DIS BA GE F GM JPM GS V MA PYPL""")
_CURRENCIES = _words("USD EUR GBP JPY CHF CAD AUD NZD SEK NOK DKK PLN CZK HUF INR CNY BRL MXN ZAR SGD")
_ADJECTIVES = _words("""silver quiet golden hidden bright lonely wild gentle broken crimson frozen hollow
distant electric velvet paper iron summer winter midnight""")
_NOUNS = _words("""river garden harbor mountain forest lantern mirror window bridge island meadow engine
compass orchard station canyon tower valley shadow echo""")
_PRODUCT_ADJ = _words("wireless ergonomic portable waterproof compact foldable smart vintage organic leather")
_PRODUCT_NOUN = _words("""headphones keyboard backpack blender lamp kettle speaker jacket mouse tent wallet
umbrella camera charger""")
_EVENT_WHAT = "budget review|team standup|design sync|client call|project kickoff|quarterly planning|" \
              "one-on-one|code review|product demo|hiring panel|sprint retro|board meeting|" \
              "lunch with the team|dentist appointment|yoga class|parent meeting|book club|" \
              "marketing sync|security training|offsite prep"
_MESSAGES = """running ten minutes late|see you at the station|the report is ready|call me when you land|
dinner is at eight|can we move our meeting|happy birthday|the package arrived|don't forget the keys|
meeting moved to Friday|I'm on my way|thanks for the help|let's grab coffee tomorrow|
the door code changed|please review the draft|tickets are booked|the server is back up|
pick up milk on the way|great job today|I left the charger at home|the kids are asleep|
lunch is on me|check your inbox|flight is delayed|see you at the gym"""
_FOLDERS = _split_lines("reports|photos|invoices|notes|projects|music|backups|drafts|contracts|recipes|slides|archive")
_FILE_STEMS = _split_lines("summary|budget|plan|notes|draft|invoice|agenda|roadmap|minutes|todo|report|checklist")
_FILE_EXTS = _words("pdf txt docx csv xlsx md")
_PLACES = """Central Station|City Hall|the airport|the museum|Union Square|the harbor|Main Street|
the university|the stadium|the old town|Riverside Park|the central library|the train station|
Market Square|the conference center|the zoo|the cathedral|the beach|Lake View|the opera house"""
_TOPICS = """electric cars|climate policy|space exploration|football|the stock market|elections|
artificial intelligence|housing prices|renewable energy|the Olympics|vaccines|cybersecurity|
interest rates|film festivals|ocean plastic|startups|public transport|video games|cryptocurrency|
wildfires"""
_DEVICES = """living room lamp|kitchen lights|bedroom fan|hallway heater|porch light|garage door|
office lamp|bathroom heater|nursery light|patio lights|desk lamp|front door lock|back door lock|
dining room lights|attic fan|basement lights|guest room heater|garden sprinkler|TV backlight|
hall thermostat"""
_DISHES_A = _words("spicy creamy smoky crispy roasted lemon garlic honey herb ginger")
_DISHES_B = _words("chicken tofu salmon lentil soup noodles risotto tacos curry salad pasta dumplings")
_INGREDIENTS = _words("""tomato basil garlic onion carrot spinach mushroom potato rice lentils chickpeas
salmon chicken tofu eggs butter ginger lemon cilantro paprika cumin honey oats almonds walnuts
avocado pumpkin zucchini broccoli cheddar""")
_EXERCISES = """squats|push-ups|lunges|burpees|plank|deadlift|bench press|pull-ups|rowing|cycling|
running|swimming|jump rope|kettlebell swings|mountain climbers|crunches|yoga flow|pilates|stretching|
hiking|box jumps|sit-ups|step-ups|shoulder press|bicep curls"""
_AUTHORS = """Ada Lindqvist|Marcus Obi|Helen Park|Tomas Reyes|Ingrid Sol|Kenji Mori|Laila Haddad|
Oscar Brandt|Nina Petrova|Samuel Achebe|Clara Vance|Ravi Menon|Elena Ruiz|Hugo Lambert|Mei Chen|
Jonah Wilde|Astrid Holm|Pedro Alves|Yuki Sato|Greta Falk|Daniel Osei|Irene Vogel|Felix Hart|
Sara Lind|Arjun Das"""
_MASCOTS = _words("Falcons Tigers Rovers Comets Wolves Sharks Giants Pioneers Rangers Lions")
_BREEDS = """labrador|beagle|poodle|bulldog|dachshund|boxer|collie|husky|corgi|terrier|spaniel|
greyhound|pug|shiba inu|maine coon|siamese|persian|ragdoll|bengal|sphynx|sheepdog|whippet|
dalmatian|rottweiler|chihuahua"""
_PET_NAMES = _words("""Biscuit Luna Max Bella Charlie Milo Daisy Rocky Coco Simba Nala Oreo Pepper Ziggy Mochi
Toby Loki Ruby Gizmo Rosie Bruno Pixel Waffles Maple Juniper""")
_SUBJECTS = """algebra|geometry|calculus|statistics|biology|chemistry|physics|world history|
economics|philosophy|Spanish|French|German|music theory|computer science|astronomy|geography|
literature|psychology|art history|accounting|poetry|robotics|ecology|linguistics"""
_PLANTS = """tomatoes|basil|roses|tulips|lavender|mint|orchids|ferns|cacti|sunflowers|peppers|
lettuce|strawberries|rosemary|succulents|daisies|lilies|peonies|cucumbers|zucchini|thyme|
hydrangeas|marigolds|blueberries|sage"""
_STOPS = """Oak Street|Pine Avenue|Harbor Gate|North Terminal|Elm Square|Mill Road|Castle Hill|
Bay Bridge|Park Lane|Station Road|Willow Court|King Street|Queen Plaza|Maple Drive|Cedar Point|
Lake Road|Hill Top|Old Mill|West End|East Gate|Church Street|Market Hall|Garden Row|Canal Street|
Bridge End"""
_GENRES_WORDS = _split_lines("jazz|indie rock|lo-fi|classical|hip hop|folk|techno|blues|reggae|ambient")


def _titles(prefix: str = "The") -> list[str]:
    return [f"{prefix} {a.capitalize()} {n.capitalize()}".strip() for a in _ADJECTIVES for n in _NOUNS]


def _build_pools() -> dict[str, list[str]]:
    people = [f"{first} {last}" for first, last in zip(_FIRST_NAMES, _LAST_NAMES * 3, strict=False)]
    pools = {
        "city": _CITIES + _MULTIWORD_CITIES,
        "person": list(_FIRST_NAMES),
        "full_name": people,
        "email": [f"{f.lower()}@{d}" for f in _FIRST_NAMES for d in _MAIL_DOMAINS],
        "phone": [f"+1-555-{1000 + 37 * i:04d}" for i in range(200)],
        "company": list(_COMPANIES),
        "ticker": list(_TICKERS),
        "currency": list(_CURRENCIES),
        "account": [f"ACC-{4000 + 13 * i}" for i in range(200)],
        "order_id": [f"ORD-{10000 + 7 * i}" for i in range(300)],
        "coupon": [f"{w.upper()}{p}" for w in _ADJECTIVES for p in (10, 15, 20, 25)],
        "product": [f"{a} {n}" for a in _PRODUCT_ADJ for n in _PRODUCT_NOUN],
        "event_title": _split_lines(_EVENT_WHAT),
        "message": _split_lines(_MESSAGES),
        "folder": list(_FOLDERS) + [f"{d}/{y}" for d in _FOLDERS for y in (2023, 2024, 2025)],
        "file_path": [f"{d}/{s}_{y}.{e}" for d in _FOLDERS for s in _FILE_STEMS for y in (2024, 2025)
                      for e in _FILE_EXTS[:2]] + [f"{d}/{s}.{e}" for d in _FOLDERS[:4] for s in _FILE_STEMS
                                                 for e in _FILE_EXTS[2:]],
        "file_query": list(_FILE_STEMS) + list(_FOLDERS),
        "place": _split_lines(_PLACES),
        "topic": _split_lines(_TOPICS),
        "device": _split_lines(_DEVICES),
        "time": [f"{h:02d}:{m:02d}" for h in range(6, 23) for m in (0, 15, 30, 45)],
        "date": [(_dt.date(2025, 1, 1) + _dt.timedelta(days=i)).isoformat() for i in range(730)],
        # pretraining domains
        "dish": [f"{a} {b}" for a in _DISHES_A for b in _DISHES_B],
        "ingredient": list(_INGREDIENTS),
        "exercise": _split_lines(_EXERCISES),
        "book_title": _titles("The"),
        "author": _split_lines(_AUTHORS),
        "team": [f"{c} {m}" for c in _CITIES[:30] for m in _MASCOTS],
        "song": _titles(""),
        "artist": [f"{a.capitalize()} {n.capitalize()}s" for a in _ADJECTIVES[:10] for n in _NOUNS[10:]],
        "stop": _split_lines(_STOPS),
        "transit_line": [f"{k} {n}" for k in ("Bus", "Tram", "Line") for n in range(1, 40)],
        "pet_name": list(_PET_NAMES),
        "breed": _split_lines(_BREEDS),
        "subject": _split_lines(_SUBJECTS),
        "movie": _titles("Return to the"),
        "plant": _split_lines(_PLANTS),
        "flight": [f"{a}{n}" for a in ("LH", "AF", "BA", "KL", "IB", "AY", "SK", "TP", "LX", "OS")
                   for n in range(101, 2000, 97)],
        "isbn": [f"978-{1000000000 + 7919 * i}" for i in range(200)],
        "playlist": [f"{g} {w}" for g in _GENRES_WORDS for w in ("mix", "favorites", "focus", "party")],
    }
    return {name: sorted(set(values)) for name, values in pools.items()}


@functools.lru_cache(maxsize=1)
def pools() -> dict[str, list[str]]:
    """All string value pools by name (sorted, deduplicated). Built once, on first use."""
    return _build_pools()


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


@functools.cache
def pool_for_split(pool: str, split: str) -> tuple[str, ...]:
    """The values of ``pool`` owned by ``split``; raises if the pool name or split is unknown."""
    check_split(split)
    all_pools = pools()
    if pool not in all_pools:
        raise KeyError(f"unknown value pool {pool!r}; known pools: {', '.join(sorted(all_pools))}")
    values = tuple(v for v in all_pools[pool] if value_split(v) == split)
    if not values:
        raise ValueError(f"value pool {pool!r} has no values for split {split!r}; add more values")
    return values


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

    Values whose shortest repr is not their 2-decimal form (e.g. 12.5 vs 12.50) are fine because
    both the text and the JSON argument use ``repr``; whole numbers are avoided so that a number
    parameter never looks like an integer.
    """
    while True:
        cents = rng.randint(round(low * 100), round(high * 100))
        value = cents / 100
        if cents % 100 and value_split(value) == split:
            return value


def sample_string(rng: random.Random, pool: str, split: str) -> str:
    """A value of ``pool`` owned by ``split``."""
    return rng.choice(pool_for_split(pool, split))


def render_value(value: object) -> str:
    """How an argument value is written in the user's text (exactly recoverable from it)."""
    if isinstance(value, list):
        items = [render_value(v) for v in value]
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    if isinstance(value, float):
        return repr(value)
    return str(value)
