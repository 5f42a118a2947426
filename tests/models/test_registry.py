from __future__ import annotations

from pathlib import Path

import pytest

from toolsweep.models.registry import BUILTIN_MODELS, resolve_model


def test_builtin_name_resolves_to_the_shipped_directory() -> None:
    path = Path(resolve_model("builtin:tiny-tool-lm"))
    assert path == BUILTIN_MODELS["tiny-tool-lm"]
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def test_unknown_builtin_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(ValueError, match="builtin:tiny-tool-lm"):
        resolve_model("builtin:nope")


def test_existing_local_directory_is_returned(tmp_path: Path) -> None:
    assert resolve_model(str(tmp_path)) == str(tmp_path)


def test_hub_ids_pass_through_unchanged() -> None:
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert resolve_model("gpt2") == "gpt2"


@pytest.mark.parametrize("missing", ["./no/such/model", "/no/such/model", "~/no-such-model-dir", "a/b/c"])
def test_missing_local_path_names_the_path(missing: str) -> None:
    with pytest.raises(ValueError, match="does not exist") as info:
        resolve_model(missing)
    assert missing in str(info.value)


def test_the_registry_loads_exactly_the_built_in_names_the_schema_accepts() -> None:
    """The schema checks ``model.name`` against ``config.model_names`` (it may not import the registry); a
    built-in added to one and not the other would validate and then fail to load, or never validate."""
    from toolsweep.config.model_names import BUILTIN_MODEL_NAMES
    from toolsweep.models.registry import registered_names

    assert registered_names() == BUILTIN_MODEL_NAMES


def test_each_named_chat_template_has_its_file() -> None:
    from toolsweep.models.chat_templates import CHAT_TEMPLATES, chat_template_text

    folder = Path(__file__).parents[2] / "toolsweep" / "models" / "chat_templates"
    shipped = {path.stem for path in folder.glob("*.jinja")}
    assert set(CHAT_TEMPLATES) == shipped
    assert all("<tool_call>" in chat_template_text(name) for name in CHAT_TEMPLATES)
