"""The one loading module: what reaches ``from_pretrained`` (revision, dtype, remote code, safetensors), the
pad-token fallback, adapter versus full weights, and the one place that sets HF_HUB_OFFLINE."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from toolsweep.config.schema import ModelConfig
from toolsweep.errors import UserError
from toolsweep.models import loading


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE unset for the test (conftest sets it for the session) and restored after it."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def _recording(monkeypatch: pytest.MonkeyPatch, calls: list[tuple[str, dict[str, Any]]]) -> None:
    """Record what reaches ``from_pretrained`` for weights and tokenizers, then load the tiny model anyway."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for kind, cls in (("weights", AutoModelForCausalLM), ("tokenizer", AutoTokenizer)):
        real = cls.from_pretrained

        def fake(location: str, *args: Any, _kind: str = kind, _real: Any = real, **kwargs: Any) -> Any:
            calls.append((_kind, {"location": str(location), **kwargs}))
            return _real(os.environ["TINY_MODEL_FOR_TEST"], *args, **{**kwargs, "revision": None})

        monkeypatch.setattr(cls, "from_pretrained", fake)


def test_revision_dtype_and_safety_flags_reach_from_pretrained(tiny_model_dir: Path, hub_env: None,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setenv("TINY_MODEL_FOR_TEST", str(tiny_model_dir))
    _recording(monkeypatch, calls)
    model = ModelConfig(name="some-owner/some-model", revision="v1.2")  # a hub id: nothing is fetched here
    loaded = loading.load_base(model, torch.bfloat16)
    loading.load_tokenizer(model)
    (_, weights), (_, tokenizer) = calls
    assert weights["location"] == "some-owner/some-model" and weights["revision"] == "v1.2"
    assert weights["dtype"] is torch.bfloat16 and loaded.dtype == torch.bfloat16
    assert weights["use_safetensors"] is True and weights["trust_remote_code"] is False
    assert tokenizer["revision"] == "v1.2" and tokenizer["trust_remote_code"] is False


def test_a_local_directory_has_no_revision_when_evaluated(tiny_model_dir: Path, hub_env: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setenv("TINY_MODEL_FOR_TEST", str(tiny_model_dir))
    _recording(monkeypatch, calls)
    loading.load_for_inference(str(tiny_model_dir), revision="v1.2", trust_remote_code=True, dtype=torch.float32)
    assert [call["revision"] for _, call in calls] == [None, None]
    assert all(call["trust_remote_code"] is True for _, call in calls)


def _without_pad(tiny_model_dir: Path, target: Path) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.pad_token = None
    tokenizer.save_pretrained(target)
    AutoModelForCausalLM.from_pretrained(tiny_model_dir).save_pretrained(target)
    assert json.loads((target / "tokenizer_config.json").read_text()).get("pad_token") is None
    return target


def test_a_tokenizer_without_pad_token_pads_with_eos_in_training_and_evaluation(tiny_model_dir: Path,
                                                                                tmp_path: Path) -> None:
    no_pad = _without_pad(tiny_model_dir, tmp_path / "no-pad")
    trained = loading.load_tokenizer(ModelConfig(name=str(no_pad)))
    _, evaluated = loading.load_for_inference(str(no_pad))
    for tokenizer in (trained, evaluated):
        assert tokenizer.pad_token is not None and tokenizer.pad_token == tokenizer.eos_token


def test_a_tokenizer_without_chat_template_is_refused_with_the_fix(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    plain = tmp_path / "plain"
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = None
    tokenizer.save_pretrained(plain)
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(UserError, match="no chat template.*model.chat_template"):
        loading.load_tokenizer(ModelConfig(name=str(plain)))
    assert loading.load_tokenizer(ModelConfig(name=str(plain), chat_template="hermes")).chat_template


def save_lora_adapter(tiny_model_dir: Path, target: Path) -> Path:
    """A LoRA adapter on the tiny model whose B matrices are non-zero, so applying it changes the logits."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    peft = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                          LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    peft.save_pretrained(target)
    return target


def logits(model: Any) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=torch.tensor([[1, 2, 3, 4]])).logits


def test_an_adapter_directory_loads_onto_its_base_and_a_full_directory_as_it_is(tiny_model_dir: Path,
                                                                                tmp_path: Path) -> None:
    from peft import PeftModel

    adapter = save_lora_adapter(tiny_model_dir, tmp_path / "adapter")
    base = ModelConfig(name=str(tiny_model_dir))
    assert loading.is_adapter(adapter) and not loading.is_adapter(tiny_model_dir)
    assert loading.adapter_base(adapter) == str(tiny_model_dir)

    trained = loading.load_trained(base, adapter, torch.float32, trainable=True)
    assert isinstance(trained, PeftModel)
    assert any(p.requires_grad for n, p in trained.named_parameters() if "lora_" in n)
    frozen = loading.load_trained(base, adapter, torch.float32)
    assert not any(p.requires_grad for p in frozen.parameters())
    full = loading.load_trained(base, tiny_model_dir, torch.float32)
    assert not isinstance(full, PeftModel)
    assert not torch.allclose(logits(frozen), logits(full))  # the adapter was really applied

    evaluated, tokenizer = loading.load_for_inference(str(adapter), dtype=torch.float32)
    assert isinstance(evaluated, PeftModel) and not evaluated.training
    assert torch.allclose(logits(evaluated), logits(frozen))
    assert tokenizer.chat_template  # the adapter saved no tokenizer: its base's is used


def test_only_configure_hub_access_sets_offline_mode_and_only_for_local_models(tiny_model_dir: Path, hub_env: None,
                                                                               tmp_path: Path) -> None:
    loading.configure_hub_access("some-owner/some-model")
    assert "HF_HUB_OFFLINE" not in os.environ
    loading.configure_hub_access(str(tiny_model_dir), "some-owner/some-model")  # e.g. an adapter on a hub base
    assert "HF_HUB_OFFLINE" not in os.environ
    loading.configure_hub_access("builtin:tiny-tool-lm", needs_hub_data=True)
    assert "HF_HUB_OFFLINE" not in os.environ
    with loading.hub_access_restored():
        loading.load_for_inference(str(tiny_model_dir))
        assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in os.environ  # a later push to the hub is not blocked
    loading.configure_hub_access("builtin:tiny-tool-lm")
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"


def test_nothing_outside_the_loading_module_sets_hf_hub_offline() -> None:
    """One place decides offline mode: any other assignment to it in the package is a second opinion."""
    root = Path(loading.__file__).parents[1]
    setting = re.compile(r"environ(\[\s*[\"']HF_HUB_OFFLINE|\.(setdefault|pop)\(\s*[\"']HF_HUB_OFFLINE)")
    found = [str(path.relative_to(root)) for path in root.rglob("*.py") if setting.search(path.read_text())]
    assert found == ["models/loading.py"]
