"""``model.chat_template``: named templates that render tools, checked by the schema, applied where the
tokenizer is loaded, and read back by the parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolsweep.config import SweepFileError, load_sweep
from toolsweep.evaluation.parsing import parse_tool_calls
from toolsweep.models.chat_templates import CHAT_TEMPLATES, chat_template_text


def _sweep(tmp_path: Path, template: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(f"model:\n  name: builtin:tiny-tool-lm\n  chat_template: {template}\n")
    return path


@pytest.mark.parametrize("name", CHAT_TEMPLATES)
def test_named_templates_validate_and_load(tmp_path: Path, name: str) -> None:
    assert load_sweep(_sweep(tmp_path, name)).spec.model.chat_template == name
    assert "{% generation %}" in chat_template_text(name).replace("{%- generation -%}", "{% generation %}")


def test_an_unknown_template_names_the_field_and_the_choices(tmp_path: Path) -> None:
    with pytest.raises(SweepFileError) as raised:
        load_sweep(_sweep(tmp_path, "chatml"))
    message = str(raised.value)
    assert "model.chat_template" in message and "hermes" in message and "smollm2" in message


def test_a_template_file_is_applied_when_the_tokenizer_loads(tmp_path: Path, tiny_model_dir: Path) -> None:
    from toolsweep.config.schema import ModelConfig
    from toolsweep.models.loading import load_tokenizer

    own = tmp_path / "mine.jinja"
    own.write_text("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}")
    tokenizer = load_tokenizer(ModelConfig(name=str(tiny_model_dir), chat_template=str(own)))
    assert tokenizer.chat_template == own.read_text()
    assert load_tokenizer(ModelConfig(name=str(tiny_model_dir), chat_template="smollm2")).chat_template == \
        chat_template_text("smollm2")


def _assistant_text(tokenizer, example: dict) -> str:
    out = tokenizer.apply_chat_template(example["messages"], tools=example["tools"], return_dict=True,
                                        return_assistant_tokens_mask=True)
    return tokenizer.decode([t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m])


def test_smollm2_template_masks_the_answer_and_its_calls_parse_back(examples: list[dict], tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = chat_template_text("smollm2")
    simple, parallel, irrelevance = examples[:3]
    prompt = tokenizer.apply_chat_template(simple["messages"][:1], tools=simple["tools"], tokenize=False,
                                           add_generation_prompt=True)
    assert "You have access to the following tools:\n<tools>\n{\"name\": \"get_weather\"" in prompt
    for example in (simple, parallel):
        answer = _assistant_text(tokenizer, example)
        assert answer.startswith("<tool_call>[\n") and answer.endswith("]</tool_call><|im_end|>")
        parsed = parse_tool_calls(answer.removesuffix("<|im_end|>"))
        expected = [(c["function"]["name"], c["function"]["arguments"]) for c in example["messages"][-1]["tool_calls"]]
        assert parsed.well_formed and [(c.name, c.arguments) for c in parsed.calls] == expected
    assert _assistant_text(tokenizer, irrelevance) == irrelevance["messages"][-1]["content"] + "<|im_end|>"


def test_an_empty_call_list_is_no_call() -> None:
    parsed = parse_tool_calls("<tool_call>[]</tool_call>")
    assert parsed.well_formed and parsed.calls == []
