"""The bundled catalogues: size, domains, typed params, confusable pairs, target/pretrain disjointness."""

from __future__ import annotations

import pytest

from toolsweep.data import confusable_pairs, pretrain_tools, target_tools, templates_for, tools_by_domain
from toolsweep.data.catalogue import tool_entry
from toolsweep.data.values import SPLITS, pool_for_split, pools


def _names(tools):
    return {t["function"]["name"] for t in tools}


@pytest.mark.parametrize("tools, catalogue", [(target_tools, "target"), (pretrain_tools, "pretrain")])
def test_catalogue_size_and_domains(tools, catalogue):
    specs = tools()
    assert len(specs) >= 40
    assert len(_names(specs)) == len(specs)
    assert len(tools_by_domain(catalogue)) >= 8
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


def test_target_and_pretrain_are_disjoint():
    assert not _names(target_tools()) & _names(pretrain_tools())
    assert not set(tools_by_domain("target")) & set(tools_by_domain("pretrain"))


def test_confusable_pairs_name_catalogue_tools():
    expected = {("get_weather", "get_forecast"), ("send_email", "send_sms"), ("search_flights", "book_flight")}
    pairs = confusable_pairs("target")
    assert expected <= set(pairs)
    names = _names(target_tools())
    assert all(a in names and b in names and a != b for a, b in pairs)
    pre = _names(pretrain_tools())
    assert all(a in pre and b in pre for a, b in confusable_pairs("pretrain"))


def test_specs_are_fresh_copies():
    specs = target_tools()
    specs[0]["function"]["name"] = "mutated"
    assert target_tools()[0]["function"]["name"] != "mutated"


def test_templates_partitioned_per_tool():
    for spec in target_tools() + pretrain_tools():
        name = spec["function"]["name"]
        parts = [set(templates_for(name, split)) for split in SPLITS]
        assert all(parts), name
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert set().union(*parts) == set(tool_entry(name).templates)


def test_every_pool_has_values_in_every_split():
    for pool in pools():
        splits = [set(pool_for_split(pool, split)) for split in SPLITS]
        assert all(splits), pool
        assert not (splits[0] & splits[2] or splits[1] & splits[2] or splits[0] & splits[1])


def test_unknown_catalogue_and_split_errors_say_what_to_use():
    with pytest.raises(ValueError, match="target, pretrain"):
        tools_by_domain("nope")
    with pytest.raises(ValueError, match="train, validation, test"):
        templates_for("get_weather", "dev")
