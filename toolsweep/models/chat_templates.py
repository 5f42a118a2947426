"""Named chat templates that render tools, and the ``model.chat_template`` override that applies them.

Why an override: the project renders tools only through the model's own chat template, and many small
instruct models ship a template that has no tools and no ``{% generation %}`` markers (SmolLM2-135M's is
plain ChatML), so TRL could neither show the model its tools nor mask the loss to the assistant's turn.
A sweep file names one of these templates, or gives a Jinja file of its own, and every stage (SFT, DPO,
evaluation, export) uses it because it is set on the tokenizer once, where the tokenizer is loaded.

- ``compact``: Hermes/Qwen calls (one ``<tool_call>`` block per call) with each tool written as one
  signature line, ``name(city: string, units?: "celsius"|"fahrenheit"): description``. Prompt tokens
  dominate CPU cost and schemas dominate prompts: on the bundled test split it renders 172 SmolLM2 tokens
  per example where ``hermes`` renders 311. The built-in SmolLM2 uses it.
- ``hermes``: the same calls with each tool as one JSON-schema line and no preamble (the shipped tiny
  model's template).
- ``smollm2``: the function-calling form of the SmolLM2-Instruct model card (a system preamble, tools in
  ``<tools>``, calls as one JSON list in one ``<tool_call>`` block). SmolLM2-1.7B learned it; the 135M
  model did not (measured: 0 of 18 tool-call rows right zero-shot, no call at all), so the 135M built-in
  does not use it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from toolsweep.config.model_names import CHAT_TEMPLATES, check_chat_template

__all__ = ["CHAT_TEMPLATES", "chat_template_text", "check_chat_template"]


def chat_template_text(value: str) -> str:
    """The Jinja source of a built-in template name or of a template file."""
    if value in CHAT_TEMPLATES:
        return resources.files(__package__).joinpath("chat_templates", f"{value}.jinja").read_text(encoding="utf-8")
    return Path(check_chat_template(value)).expanduser().read_text(encoding="utf-8")
