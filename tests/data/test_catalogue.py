"""The bundled target catalogue and the procedural pretraining tools: size, domains, typed params,
confusable pairs, phrasing partitions, and that procedural tools never reproduce a target tool."""

from __future__ import annotations

import random

import pytest

from toolsweep.data import confusable_pairs, target_tools, templates_for, tools_by_domain
from toolsweep.data.catalogue import PHRASINGS, tool_entry
from toolsweep.data.procedural import procedural_tools
from toolsweep.data.values import POOLS, SPLITS, sample_string, value_split


def _names(tools):
    return {t["function"]["name"] for t in tools}


def _procedural_specs():
    return [entry.spec for entry in procedural_tools(300, seed=0)]


@pytest.mark.parametrize("tools", [target_tools, _procedural_specs])
def test_catalogue_size_and_domains(tools):
    specs = tools()
    assert len(specs) >= 40
    assert len(_names(specs)) == len(specs)
    for spec in specs:
        assert spec["type"] == "function"
        fn = spec["function"]
        assert fn["description"].endswith(".") and len(fn["description"]) < 70
        params = fn["parameters"]
        assert params["type"] == "object"
        assert set(params["required"]) <= set(params["properties"])


def test_target_uses_every_param_type_and_optionals():
    kinds = set()
    has_optional = 0
    for spec in target_tools():
        params = spec["function"]["parameters"]
        for prop in params["properties"].values():
            kinds.add(prop["type"] + ("/enum" if "enum" in prop else "") + ("/date" if prop.get("format") else ""))
        has_optional += len(params["properties"]) > len(params["required"])
    assert {"string", "string/enum", "integer", "number", "boolean", "string/date", "array"} <= kinds
    assert has_optional >= 10


def test_target_has_domains():
    assert len(tools_by_domain("target")) >= 8


def test_procedural_tools_never_reproduce_a_target_tool_or_domain():
    procedural = procedural_tools(3000, seed=1)
    assert not _names(e.spec for e in procedural) & _names(target_tools())
    assert not {e.domain for e in procedural} & set(tools_by_domain("target"))
    assert procedural_tools(50, seed=1) == procedural[:50]  # deterministic from the seed


def test_confusable_pairs_name_catalogue_tools():
    expected = {("get_weather", "get_forecast"), ("send_email", "send_sms"), ("search_flights", "book_flight")}
    pairs = confusable_pairs("target")
    assert expected <= set(pairs)
    names = _names(target_tools())
    assert all(a in names and b in names and a != b for a, b in pairs)


def test_specs_are_fresh_copies():
    specs = target_tools()
    specs[0]["function"]["name"] = "mutated"
    assert target_tools()[0]["function"]["name"] != "mutated"


def test_templates_partitioned_per_tool():
    for spec in target_tools():
        name = spec["function"]["name"]
        parts = [set(templates_for(name, phrasing)) for phrasing in PHRASINGS]
        assert all(parts), name
        assert not parts[0] & parts[1]
        assert parts[0] | parts[1] == set(tool_entry(name).templates)


@pytest.mark.parametrize("pool", POOLS)
def test_every_pool_draws_values_owned_by_each_split(pool):
    rng = random.Random(0)
    for split in SPLITS:
        values = {sample_string(rng, pool, split) for _ in range(30)}
        assert {value_split(v) for v in values} == {split}


def test_unknown_catalogue_and_split_errors_say_what_to_use():
    with pytest.raises(ValueError, match="use one of target"):
        tools_by_domain("nope")
    with pytest.raises(ValueError, match="seen, unseen"):
        templates_for("get_weather", "dev")


def test_verb_synonyms_change_only_request_templates_and_zero_keeps_earlier_tools():
    from toolsweep.data.procedural import VERB_SYNONYMS

    plain, varied = procedural_tools(300, seed=0), procedural_tools(300, seed=0, synonyms=0.5)
    assert [(t.name, t.spec, t.params) for t in plain] == [(t.name, t.spec, t.params) for t in varied]
    changed = [(p, v) for p, v in zip(plain, varied) if p.templates != v.templates]
    assert len(changed) > 200
    said = {s for p, _ in changed for s in VERB_SYNONYMS.get(p.name.split(".")[-1].split("_")[0], ())}
    assert any(s in template.lower() for _, v in changed for template in v.templates for s in said)
    assert procedural_tools(50, seed=0, synonyms=0.5) == varied[:50]
