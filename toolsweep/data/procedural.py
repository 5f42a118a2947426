"""Procedurally generated tools: thousands of APIs composed from word lists, for pretraining the built-in model.

Why: a model pretrained on a fixed catalogue memorises its tool names, parameter names and values (the
first built-in base memorised its 42 tools, and every target tool name cost it 8-23 nats per token). With a
fresh catalogue of random tools per conversation, the only way to write the right call is to read the tool
list and the request: copy the tool's name and parameter names from the schema and the values from the
request. That is the skill a base needs before SFT on the target tools.

A tool is a verb and a noun (``cancel_parcel``, ``getBadgeDetails``, ``garden.list_seeds``), a description
from templates, 1-4 parameters of semantic kinds (a city, a date, a count, an email, an enum...), each with
a name drawn from that kind's names and a phrasing cue ("in {city}", "on {date}", "with {name words}
{value}"), and five request templates in the bundled catalogue's format (``catalogue.py``), so the same
generator turns them into conversations. Nouns of the target catalogue's domains (weather, flights,
currencies, files...) are left out: the base must not know the target tools.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from toolsweep.data.catalogue import ToolEntry, build_entry, target_tools, tool_name
from toolsweep.data.values import english_words

__all__ = ["PARAM_KINDS", "VERB_SYNONYMS", "procedural_row", "procedural_tools"]

VERBS = ("get", "list", "create", "update", "delete", "find", "search", "check", "add", "remove", "schedule",
         "cancel", "start", "stop", "open", "close", "share", "upload", "download", "rate", "reserve", "fetch",
         "compare", "estimate", "log", "record", "register", "subscribe", "follow", "block", "rename", "move",
         "copy", "archive", "restore", "enable", "disable", "reset", "assign", "approve", "reject", "submit",
         "pay", "refund", "invite", "notify", "summarize", "analyze", "monitor", "verify", "calculate",
         "translate", "generate", "import", "export", "print", "scan", "publish", "review", "request", "renew",
         "validate", "sync", "pause", "resume", "play", "count", "measure", "plan", "order", "return")
NOUNS = ("invoice", "ticket", "playlist", "recipe", "parcel", "badge", "contract", "warehouse", "shipment",
         "podcast", "episode", "course", "lesson", "patient", "appointment", "prescription", "vehicle",
         "driver", "route", "garden", "plant", "seed", "recipe", "ingredient", "workout", "habit", "goal",
         "budget", "expense", "receipt", "donation", "campaign", "survey", "poll", "vote", "petition",
         "library", "book", "loan", "member", "team", "player", "match", "tournament", "score", "league",
         "article", "comment", "review", "photo", "album", "video", "channel", "stream", "song", "artist",
         "concert", "venue", "restaurant", "table", "menu", "dish", "pet", "vaccine", "clinic", "pharmacy",
         "package", "subscription", "license", "certificate", "project", "task", "sprint", "milestone",
         "issue", "release", "server", "database", "backup", "domain", "password", "user", "group", "role",
         "permission", "printer", "scanner", "room", "desk", "locker", "parking", "bike", "scooter",
         "volunteer", "shift", "schedule", "timesheet", "payroll", "employee", "candidate", "job", "interview",
         "property", "tenant", "lease", "repair", "inspection", "quote", "supplier", "inventory", "recipe",
         "quiz", "exam", "grade", "student", "classroom", "museum", "exhibit", "tour", "guide", "trail",
         "campsite", "boat", "harbor", "gift", "wishlist", "coupon_book", "loyalty_card", "voucher", "lottery",
         "puzzle", "game", "level", "achievement", "avatar", "profile", "note", "sketch", "diagram", "report")
QUALIFIERS = ("status", "details", "summary", "list", "history", "settings", "count", "info", "notes", "owner",
              "stats", "preview", "label", "tags", "rating")
VERB_SYNONYMS: dict[str, tuple[str, ...]] = {
    "get": ("show", "fetch", "look up", "pull up"), "list": ("show all", "show me all"),
    "create": ("make", "set up", "add"), "update": ("change", "edit", "modify"), "delete": ("remove", "erase"),
    "find": ("look for", "locate", "search for"), "search": ("look for", "find", "search for"),
    "check": ("verify", "look at", "inspect"), "add": ("put in", "insert", "include"),
    "remove": ("delete", "take out", "drop"), "schedule": ("plan", "book", "set up"),
    "cancel": ("call off", "drop", "scrap"), "start": ("begin", "launch", "kick off"), "stop": ("end", "halt"),
    "open": ("launch", "bring up"), "close": ("shut", "wrap up"), "share": ("send", "pass on"),
    "upload": ("put up", "send up"), "download": ("save", "grab"), "reserve": ("book", "hold"),
    "fetch": ("get", "grab", "retrieve"), "compare": ("weigh", "contrast"), "estimate": ("guess", "work out"),
    "log": ("record", "note down"), "record": ("log", "note down"), "register": ("sign up", "enrol"),
    "subscribe": ("sign up for", "follow"), "rename": ("retitle",), "move": ("shift", "transfer"),
    "copy": ("duplicate", "clone"), "archive": ("file away", "shelve"), "restore": ("bring back", "recover"),
    "enable": ("turn on", "switch on"), "disable": ("turn off", "switch off"), "reset": ("clear", "wipe"),
    "assign": ("give", "hand"), "approve": ("accept", "okay"), "reject": ("decline", "turn down"),
    "submit": ("send in", "hand in"), "pay": ("settle",), "refund": ("pay back", "reimburse"),
    "invite": ("ask", "bring in"), "notify": ("alert", "tell"), "summarize": ("sum up", "recap"),
    "analyze": ("examine", "study"), "monitor": ("watch", "track"), "verify": ("check", "confirm"),
    "calculate": ("work out", "compute"), "generate": ("produce", "make"), "publish": ("post", "release"),
    "review": ("go over", "look over"), "request": ("ask for",), "renew": ("extend",), "validate": ("check",),
    "sync": ("synchronise",), "pause": ("hold", "suspend"), "resume": ("continue", "restart"),
    "count": ("tally",), "measure": ("gauge",), "plan": ("organise", "map out"), "order": ("buy", "get"),
    "return": ("send back",),
}
"""What a request may say instead of a tool's verb (``remove`` for ``delete_ticket``): requests for the
target tools rarely repeat the tool's name, and a base that only ever saw its verb in the request learned to
refuse when it is missing (the quickstart's SFT model declined 'Delete become/worker_2020.json.')."""

_ADJECTIVES = ("new", "active", "pending", "shared", "private", "recent", "archived", "open", "public", "draft")

_TARGET_WORDS = frozenset(("weather", "forecast", "air", "quality", "uv", "flight", "flights", "hotel", "hotels",
                           "car", "stock", "currency", "exchange", "money", "account", "balance", "email", "sms",
                           "chat", "message", "messages", "event", "events", "reminder", "attendees", "file",
                           "files", "folder", "product", "products", "cart", "order", "device", "thermostat",
                           "light", "brightness", "door", "directions", "travel", "nearby", "news"))


@dataclass(frozen=True)
class ParamKind:
    """A semantic kind of parameter: its value spec (catalogue format), names and phrasing cues.

    A cue mentions the value as ``{v}``; ``{w}`` stands for the parameter's name in words ("check in date")."""

    spec: str
    names: tuple[str, ...]
    cues: tuple[str, ...] = ()


_GENERIC_CUES = ("with {w} {v}", "{w} {v}", "{w}: {v}", "where the {w} is {v}", "setting {w} to {v}",
                 "using {v} as the {w}", "{w} = {v}")

PARAM_KINDS: tuple[ParamKind, ...] = (
    ParamKind("city", ("city", "location", "town", "destination_city", "home_city", "region"), ("in {v}", "for {v}", "near {v}")),
    ParamKind("person", ("name", "first_name", "contact", "recipient", "owner", "assignee", "guest_name"), ("for {v}", "with {v}", "by {v}")),
    ParamKind("full_name", ("full_name", "customer", "author", "manager", "patient_name", "driver_name"), ("for {v}", "by {v}")),
    ParamKind("email", ("email", "contact_email", "recipient_email", "user_email", "reply_to"), ("to {v}", "for {v}", "at {v}")),
    ParamKind("phone", ("phone", "phone_number", "mobile", "contact_number"), ("at {v}", "on {v}")),
    ParamKind("company", ("company", "organization", "vendor", "supplier", "brand", "employer"), ("at {v}", "from {v}", "for {v}")),
    ParamKind("date", ("date", "start_date", "end_date", "due_date", "day", "deadline", "check_date"), ("on {v}", "for {v}", "by {v}")),
    ParamKind("time", ("time", "start_time", "end_time", "at_time", "slot"), ("at {v}", "around {v}")),
    ParamKind("code", ("id", "reference", "code", "tracking_code", "serial", "ticket_id", "booking_ref", "token"), ("{v}", "number {v}", "#{v}")),
    ParamKind("word", ("keyword", "query", "tag", "label", "category", "topic", "term", "color"), ("about {v}", "for {v}", "called {v}")),
    ParamKind("message", ("text", "note", "comment", "description", "title", "caption", "reason"), ("saying {v}", "with the text {v}")),
    ParamKind("place", ("street", "address", "meeting_point", "pickup_location", "venue_address"), ("at {v}", "on {v}", "from {v}")),
    ParamKind("company", ("team_name", "club", "store", "shop"), ("at {v}", "for {v}")),
    ParamKind("topic", ("subject", "theme", "focus", "headline"), ("about {v}", "on {v}")),
    ParamKind("file_path", ("path", "filename", "document", "attachment"), ("{v}", "from {v}")),
    ParamKind("int:1-20", ("count", "quantity", "limit", "seats", "copies", "people", "max_results", "level"), ("{v} {w}",)),
    ParamKind("int:1-365", ("days", "duration_days", "age", "week_number", "page", "rank"), ("{v} {w}",)),
    ParamKind("int:10-999", ("minutes", "duration", "distance_km", "capacity", "points", "calories"), ("{v} {w}",)),
    ParamKind("int:1990-2040", ("year", "season", "model_year"), ("in {w} {v}",)),
    ParamKind("num:1-5000", ("amount", "price", "budget", "total", "max_price", "deposit", "fee"), ("a {w} of {v}",)),
    ParamKind("num:0-100", ("percent", "discount", "weight_kg", "score", "threshold", "ratio"), ("a {w} of {v}",)),
    ParamKind("list:person", ("names", "members", "guests", "participants", "players"), ("for {v}", "with {v}")),
    ParamKind("list:word", ("tags", "keywords", "labels", "categories", "items"), ("with {v}", "tagged {v}")),
    ParamKind("list:email", ("emails", "recipients", "cc", "invitees"), ("to {v}", "for {v}")),
)
_ENUMS = (("low", "medium", "high"), ("small", "medium", "large"), ("daily", "weekly", "monthly"),
          ("public", "private"), ("asc", "desc"), ("json", "csv", "pdf"), ("standard", "express", "overnight"),
          ("red", "green", "blue", "black"), ("morning", "afternoon", "evening"), ("basic", "pro", "premium"),
          ("open", "closed", "pending"), ("metric", "imperial"), ("easy", "normal", "hard"), ("email", "sms", "push"))
_ENUM_NAMES = ("priority", "size", "frequency", "visibility", "order", "format", "shipping", "color", "period",
               "plan", "state", "units", "difficulty", "channel", "mode", "tier", "level", "style")
_BOOL_NAMES = ("urgent", "notify", "include_archived", "recurring", "verified", "express", "anonymous", "public",
               "refundable", "dry_run", "overwrite", "all_day")

_OPENERS = ("{V} {o}", "Please {v} {o}", "Can you {v} {o}", "I need to {v} {o}", "I want to {v} {o}",
            "Could you {v} {o}", "Help me {v} {o}", "{V} {o} for me", "Go ahead and {v} {o}", "Time to {v} {o}",
            "Let's {v} {o}", "Would you {v} {o}", "Quick one: {v} {o}", "I'd like to {v} {o}", "Hey, {v} {o}")


def _words(identifier: str) -> str:
    """``check_in_date`` / ``checkInDate`` -> ``check in date``."""
    out = "".join(" " + c.lower() if c.isupper() else c for c in identifier).replace("_", " ").replace(".", " ")
    return " ".join(out.split())


def _identifier(parts: list[str], style: str) -> str:
    if style == "camel":
        return parts[0] + "".join(p.capitalize() for p in parts[1:])
    return "_".join(parts)


@functools.cache
def _target_names() -> frozenset[str]:
    return frozenset(tool_name(t) for t in target_tools())


_PREFIXES = ("primary", "new", "target", "billing", "home", "work", "backup", "preferred", "default", "source",
             "dest", "custom", "user", "main", "alt", "min", "max", "first", "last", "next", "old", "local", "remote")
_SUFFIXES = ("value", "name", "ref", "text", "id", "1", "2", "field", "input", "param")


def _param_name(base: str, rng: random.Random) -> tuple[str, bool]:
    """A parameter name around ``base`` (or a random word), prefixed, suffixed and cased at random, so that
    the only way to write it is to copy it from the signature, not to recall a kind's usual name; and
    whether it still says its kind (a random word does not, so requests must then name it)."""
    semantic = rng.random() >= 0.2
    if not semantic:
        base = rng.choice(english_words())
    parts = base.split("_")
    roll = rng.random()
    if roll < 0.3:
        parts = [rng.choice(_PREFIXES), *parts]
    elif roll < 0.45:
        parts = [*parts, rng.choice(_SUFFIXES)]
    return _identifier(parts, "camel" if rng.random() < 0.25 else "snake"), semantic


def _pick_params(rng: random.Random) -> dict[str, tuple[str, tuple[str, ...]]]:
    """1-4 parameters with distinct names: ``name -> (value spec, cues)`` (``?`` marks an optional one)."""
    params: dict[str, tuple[str, tuple[str, ...]]] = {}
    n_required = rng.choice((1, 1, 2, 2, 2, 3, 3))
    n_optional = rng.choice((0, 0, 1, 1, 2)) if n_required < 3 else rng.choice((0, 1))
    while len(params) < n_required + n_optional:
        optional = len(params) >= n_required
        roll = rng.random()
        if roll < 0.12:
            base, spec, cues = rng.choice(_ENUM_NAMES), "enum:" + "|".join(rng.choice(_ENUMS)), ("{v} {w}", "{w} {v}", "as {v}")
        elif roll < 0.2 and optional:
            base, spec, cues = rng.choice(_BOOL_NAMES), "bool", ()
        else:
            kind = rng.choice(PARAM_KINDS)
            base, spec, cues = rng.choice(kind.names), kind.spec, kind.cues
        name, semantic = _param_name(base, rng)
        if name not in {k.rstrip("?") for k in params} and name.isidentifier():
            params[name + ("?" if optional else "")] = (spec, cues if semantic else ())
    return params


def _mention(name: str, spec: str, cues: tuple[str, ...], rng: random.Random) -> str:
    """How a request mentions one parameter: a cue around ``{name}`` (a boolean is a [?flag:..|..] phrase).
    Kind cues ("in {v}") leave the name unsaid; generic cues say it in words ("with check in date {v}")."""
    words = _words(name)
    if spec == "bool":
        return f"[?{name}:, {words}|, not {words}]"
    cue = rng.choice(cues) if cues and rng.random() < 0.5 else rng.choice(_GENERIC_CUES)
    return cue.replace("{w}", words).replace("{v}", "{" + name + "}")


def _template(verb: str, obj: str, params: dict[str, tuple[str, tuple[str, ...]]], rng: random.Random) -> str:
    opener = rng.choice(_OPENERS).replace("{V}", verb.capitalize()).replace("{v}", verb).replace("{o}", obj)
    names = list(params)
    rng.shuffle(names)
    parts = []
    for raw in names:
        name = raw.rstrip("?")
        text = _mention(name, *params[raw], rng)
        optional = raw.endswith("?")
        if optional and not text.startswith("[?"):
            text = f"[ {text}]"
        elif not text.startswith("["):
            text = " " + text
        parts.append(text)
    ending = "?" if opener.split()[0] in ("Can", "Could", "Would") else "."
    return opener + "".join(parts) + ending


def procedural_row(rng: random.Random, synonyms: float = 0.0) -> tuple:
    """One random tool in the catalogue's row format: (name, domain, description, params, templates).

    ``synonyms``: the share of its request templates that say a synonym of its verb (``VERB_SYNONYMS``),
    drawn from a generator of their own so that 0 reproduces the tools of earlier builds exactly."""
    while True:
        verb = rng.choice(VERBS)
        noun = rng.choice(NOUNS) if rng.random() < 0.7 else rng.choice(english_words())
        parts = [verb, *noun.split("_")]
        if rng.random() < 0.3:
            parts.append(rng.choice(QUALIFIERS))
        style = rng.random()
        name = _identifier(parts, "camel" if style < 0.3 else "snake")
        if style > 0.8:  # a namespace, as in BFCL's "math.factorial"
            name = f"{rng.choice(english_words())}.{name}"
        elif style > 0.7:
            name = f"{name}_v{rng.randint(2, 4)}"
        if name not in _target_names() and not (set(parts) & _TARGET_WORDS) and noun.isidentifier():
            break
    obj_words = _words("_".join(parts[1:]))
    article = rng.choice(("the ", "a ", "my ", "", "the " + rng.choice(_ADJECTIVES) + " "))
    description = rng.choice((f"{verb.capitalize()} {article}{obj_words}.",
                              f"{verb.capitalize()}s {article}{obj_words}.",
                              f"Use this to {verb} {article}{obj_words}.",
                              f"{verb.capitalize()} {article}{obj_words} of a user."))
    params = _pick_params(rng)
    said = random.Random(f"{name}|synonyms")
    spoken = [said.choice(VERB_SYNONYMS.get(verb, (verb,))) if said.random() < synonyms else verb for _ in range(5)]
    templates = [_template(v, article + obj_words, params, rng) for v in spoken]
    return name, noun, description, {name: spec for name, (spec, _) in params.items()}, templates


def procedural_tools(n: int, seed: int, synonyms: float = 0.0) -> list[ToolEntry]:
    """``n`` random tools with distinct names, deterministic from ``seed`` (and ``synonyms``, see
    ``procedural_row``)."""
    rng = random.Random(f"{seed}|procedural-tools")
    tools: dict[str, ToolEntry] = {}
    while len(tools) < n:
        row = procedural_row(rng, synonyms)
        if row[0] not in tools:
            tools[row[0]] = build_entry(row, "procedural")
    return list(tools.values())
