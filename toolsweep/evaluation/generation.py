"""Batched greedy decoding of tool-calling prompts with a Hugging Face causal LM.

Why it is shaped like this:

* prompts are rendered by the model's own chat template with the example's tools, exactly as in
  training, with ``add_generation_prompt=True``;
* prompts are sorted by token length (longest first) so a batch holds similar lengths and little
  padding, and the largest batch runs first, so an out-of-memory error shows up at once;
* padding is on the LEFT, so every row's next token sits in the last column and positions
  follow the attention mask; by default each prompt is prefilled alone and the caches are
  left-padded and stacked, so only decoding is batched (a padded prompt pass was slower than
  sequential prompts on CPU), and decoding drops finished rows (``decoding.py``); models whose
  cache cannot do that, and ``separate_prefill=False``, decode with ``model.generate``;
* batch size follows a token budget: a batch of ``b`` prompts padded to ``L`` tokens keeps
  ``b * (L + max_new_tokens) <= token_budget`` (the KV cache and activations grow with that
  product); ``batch_size`` caps it, or fixes it when ``token_budget`` is ``None``; a batch also
  closes when padding would exceed ``max_padding`` of its longest prompt;
* completions are cut at the first EOS and decoded with special tokens *kept*, so ``<tool_call>``
  survives when a tokenizer registers it as a special token; EOS and padding are dropped.

torch and transformers are imported lazily so that parsing and scoring import fast.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolsweep.config.vocabulary import DEFAULT_MAX_NEW_TOKENS
from toolsweep.evaluation.decoding import (
    cache_kwarg_name,
    compactable,
    decode_attention,
    greedy_decode,
    prefilled_cache,
)

if TYPE_CHECKING:
    import torch

DEFAULT_TOKEN_BUDGET = 32_768
# On a CPU the prompt pass is compute-bound (prompts ~300 tokens, answers ~40) and runs one prompt at a
# time anyway (see decoding.prefilled_cache), so big batches only buy cheaper decoding, and since finished
# rows leave the batch a long answer no longer holds the short ones back. Measured on the built-in model,
# 64 test prompts, bf16: budget 8192 (5 batches) 1.08 s, 16384 (3) 0.99 s, 32768 (2) 0.93 s, 65536 (1) 0.86 s.
CPU_TOKEN_BUDGET = 65_536
DEFAULT_MAX_PADDING: float | None = None


@dataclass
class GenerationOutput:
    """Completions in input order, plus what the benchmark and reports need."""

    texts: list[str]
    prompts: list[str] = field(default_factory=list)
    token_ids: list[list[int]] = field(default_factory=list)
    n_generated_tokens: int = 0
    n_batches: int = 0
    n_steps: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.n_generated_tokens / self.seconds if self.seconds > 0 else 0.0


def render_prompt(tokenizer: Any, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None) -> str:
    """The prompt text the model sees: chat template with tools and a generation prompt."""
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError("the tokenizer has no chat_template; evaluation renders prompts with it, so set "
                         "tokenizer.chat_template (the built-in model's template renders tools in Hermes format)")
    return tokenizer.apply_chat_template(
        list(messages), tools=list(tools) if tools else None, add_generation_prompt=True, tokenize=False
    )


def eos_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """EOS ids from the model's generation config and the tokenizer (chat models often have two)."""
    ids: list[int] = []
    gen_cfg = getattr(model, "generation_config", None)
    for value in (getattr(gen_cfg, "eos_token_id", None), tokenizer.eos_token_id):
        if value is None:
            continue
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if int(v) not in ids:
                ids.append(int(v))
    if not ids:
        raise ValueError("neither the model's generation_config nor the tokenizer defines an eos_token_id; "
                         "set tokenizer.eos_token so generation can stop")
    return ids


def plan_batches(lengths: Sequence[int], max_new_tokens: int, *, batch_size: int | None = None,
                 token_budget: int | None = DEFAULT_TOKEN_BUDGET,
                 max_padding: float | None = DEFAULT_MAX_PADDING) -> list[list[int]]:
    """Group prompt indices into batches, longest first.

    With a ``token_budget``, a batch grows while ``len(batch) * (longest + max_new_tokens)`` stays
    within it (a single prompt always forms a batch, however long); ``batch_size`` caps the size.
    ``max_padding`` starts a new batch when a prompt is shorter than ``(1 - max_padding)`` times the
    batch's longest: on CPU the prompt pass dominates, and padded positions cost as much as real
    ones, so a few more (cheap) decode batches beat much padding. Without a budget, batches are
    exactly ``batch_size`` (default 1).
    """
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_padding is not None and not 0.0 <= max_padding <= 1.0:
        raise ValueError(f"max_padding must be in [0, 1] (a fraction of the longest prompt), got {max_padding}")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if token_budget is None:
        size = batch_size or 1
        return [order[i:i + size] for i in range(0, len(order), size)]
    batches: list[list[int]] = []
    current: list[int] = []
    for idx in order:
        longest = lengths[current[0]] if current else lengths[idx]
        fits = (len(current) + 1) * (longest + max_new_tokens) <= token_budget
        capped = batch_size is not None and len(current) >= batch_size
        padded = max_padding is not None and lengths[idx] < (1.0 - max_padding) * longest
        if current and (not fits or capped or padded):
            batches.append(current)
            current = []
        current.append(idx)
    if current:
        batches.append(current)
    return batches


def _left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
            mask[i, width - len(row):] = 1
    return ids, mask


def _cut(tokens: list[int], eos: set[int], pad_id: int | None) -> list[int]:
    out = []
    for t in tokens:
        if t in eos:
            break
        out.append(t)
    # Finished rows are filled with pad by generate; a pad inside a live row cannot be told apart
    # from fill, so trailing pads are dropped only.
    while out and pad_id is not None and out[-1] == pad_id:
        out.pop()
    return out


def _decode_batch(model: Any, rows: list[list[int]], pad_id: int, eos: list[int], device: Any,
                  max_new_tokens: int, separate_prefill: bool) -> tuple[list[list[int]], int, bool]:
    """One batch's new tokens per row, the decode steps taken, and whether finished rows were
    padded (``generate``'s fill) rather than stopped."""
    ids, mask = _left_pad(rows, pad_id)
    ids, mask = ids.to(device), mask.to(device)
    cache = prefilled_cache(model, rows, device, max_new_tokens) if separate_prefill and len(rows) > 1 else None
    if cache is not None and compactable(cache):
        with decode_attention(model):
            new, steps = greedy_decode(model, ids, mask, cache, max_new_tokens, eos)
        return new, steps, False
    extra = {cache_kwarg_name(): cache} if cache is not None else {}
    out = model.generate(
        input_ids=ids,
        attention_mask=mask,
        **extra,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        use_cache=True,
        eos_token_id=eos,
        pad_token_id=pad_id,
        temperature=None,
        top_p=None,
        top_k=None,
        disable_compile=True,  # a static cache would compile on GPUs, once per batch shape
    )
    new = out[:, ids.shape[1]:].tolist()
    return new, len(new[0]) if new else 0, True


def generate_completions(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    batch_size: int | None = None,
    token_budget: int | None = DEFAULT_TOKEN_BUDGET,
    max_padding: float | None = DEFAULT_MAX_PADDING,
    separate_prefill: bool = True,
) -> GenerationOutput:
    """Greedy completions for already-rendered prompt strings, returned in input order.

    Batching follows :func:`plan_batches`; ``batch_size=1, token_budget=None`` decodes one prompt
    at a time. ``separate_prefill`` runs each prompt's pass alone and batches only decoding (see
    :func:`~toolsweep.evaluation.decoding.prefilled_cache`); ``False`` runs one padded prompt pass per batch.
    """
    import torch

    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    eos = eos_token_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    device = next(model.parameters()).device
    if token_budget == DEFAULT_TOKEN_BUDGET and batch_size is None and device.type == "cpu":
        token_budget = CPU_TOKEN_BUDGET
    batches = plan_batches([len(e) for e in encoded], max_new_tokens, batch_size=batch_size,
                           token_budget=token_budget, max_padding=max_padding)
    texts: list[str] = [""] * len(prompts)
    token_ids: list[list[int]] = [[] for _ in prompts]
    n_tokens = 0
    n_steps = 0
    was_training = model.training
    model.eval()
    start = time.perf_counter()
    try:
        with torch.inference_mode():
            for batch in batches:
                rows = [encoded[i] for i in batch]
                new, steps, filled = _decode_batch(model, rows, pad_id, eos, device, max_new_tokens, separate_prefill)
                n_steps += steps
                for row, i in zip(new, batch):
                    # generate fills finished rows with pad; a pad inside a live row looks the same
                    kept = _cut(row, set(eos), pad_id if filled and pad_id not in eos else None)
                    n_tokens += min(len(row), len(kept) + 1)  # the EOS was generated too
                    token_ids[i] = kept
                    texts[i] = tokenizer.decode(kept, skip_special_tokens=False)
    finally:
        if was_training:
            model.train()
    return GenerationOutput(texts=texts, prompts=list(prompts), token_ids=token_ids, n_generated_tokens=n_tokens,
                            n_batches=len(batches), n_steps=n_steps, seconds=time.perf_counter() - start)


def generate_vllm(model_path: str, prompts: Sequence[str], *, tokenizer: Any = None,
                  max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, **llm_kwargs: Any) -> GenerationOutput:
    """Greedy completions with vLLM (CUDA only; imported lazily, not exercised by the CPU tests).

    With ``tokenizer``, prompts go to vLLM as token ids encoded exactly as the transformers path
    encodes them (no special tokens added): given text, vLLM adds the tokenizer's BOS, so a chat
    template that already writes one (Llama 3) would get two, and scores would differ by backend.
    """
    try:
        from vllm import LLM, SamplingParams
    except ImportError as exc:  # pragma: no cover - needs vllm + CUDA
        raise RuntimeError("the vllm backend needs `pip install vllm` on a CUDA machine; "
                           "use backend='hf' otherwise") from exc
    if tokenizer is not None:
        inputs: list[Any] = [{"prompt_token_ids": tokenizer(p, add_special_tokens=False)["input_ids"]} for p in prompts]
    else:
        inputs = list(prompts)
    llm = LLM(model=model_path, **llm_kwargs)
    params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens, skip_special_tokens=False)
    start = time.perf_counter()
    outputs = llm.generate(inputs, params)
    texts = [o.outputs[0].text for o in outputs]
    n_tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
    return GenerationOutput(texts=texts, prompts=list(prompts), n_generated_tokens=n_tokens, n_batches=1,
                            seconds=time.perf_counter() - start)


def vllm_available() -> bool:
    """True when vllm is installed and a CUDA device is visible (checked without importing vllm)."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()
