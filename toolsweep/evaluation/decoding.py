"""Greedy decoding of a prefilled batch: the fast path behind :func:`generate_completions`.

Why it does not call ``model.generate`` (which the fallback path still uses):

* **finished rows leave the batch.** ``generate`` keeps every row until the last one ends, so a
  batch of short answers waits for its longest; here a row that emitted EOS is dropped from the
  KV cache (``Cache.reorder_cache``, the beam-search primitive) once enough rows have finished.
  That is what makes one big batch cheaper than several small ones on a CPU;
* **decode-step attention as two matmuls** (``DECODE_ATTENTION``, registered with transformers'
  ``AttentionInterface``, used on CPUs only). With one query token per row, SDPA's CPU flash kernel
  took 0.72 ms per call for 42 rows x 387 cached positions in bf16, twice the grouped matmuls below.

Each row's computation is independent of the other rows, so outputs equal ``generate``'s token for
token (a test checks it). Measured, 64 test prompts, built-in model, bf16, 2 CPU cores: see
``benchmarks/README.md``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any

DECODE_ATTENTION = "toolsweep_decode_sdpa"
"""Name under which the CPU decode attention is registered (prompt passes stay on SDPA)."""

COMPACT_FRACTION = 0.25
"""Finished rows are dropped from the batch once they exceed this share of it. Each drop copies the
whole KV cache, so dropping more eagerly bought nothing (64 prompts, one process: 0.98 s at 0.1
against 0.95 s at 0.25)."""

_FALLBACK_KWARGS = ("softcap", "s_aux", "sinks")


@functools.cache
def cache_kwarg_name() -> str:
    """The name transformers gives the KV cache in ``generate`` kwargs and model outputs.

    5.24 renamed ``past_key_values`` to ``cache``; the old name still works there but warns twice per
    batch, in every trial's log. Both versions are in the supported range."""
    import transformers
    from packaging.version import Version

    return "cache" if Version(transformers.__version__) >= Version("5.24") else "past_key_values"


def _decode_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                      dropout: float = 0.0, scaling: float | None = None, **kwargs: Any) -> tuple[Any, None]:
    """Attention for one new token per row, with the query heads that share a key/value head grouped.

    Anything else (prompt passes, a per-head or float mask, soft-capping, attention sinks, dropout)
    goes to transformers' own SDPA function unchanged.
    """
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    simple = (query.shape[2] == 1 and dropout == 0.0 and attention_mask is not None
              and attention_mask.dtype == torch.bool and attention_mask.shape[1] == 1
              and attention_mask.shape[-1] == key.shape[2] and query.shape[1] % key.shape[1] == 0
              and all(kwargs.get(k) is None for k in _FALLBACK_KWARGS))
    if not simple:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, **kwargs)
    batch, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    scale = scaling if scaling is not None else dim ** -0.5
    # Keys are used whole: slicing off the unwritten tail of the static cache made matmul copy them.
    grouped = query.reshape(batch, kv_heads, heads // kv_heads, dim)
    scores = torch.matmul(grouped, key.transpose(-1, -2)) * scale
    scores = scores.masked_fill(~attention_mask.reshape(batch, 1, 1, -1), float("-inf"))
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    out = torch.matmul(probs, value)  # (batch, kv_heads, group, dim)
    return out.reshape(batch, heads, 1, dim).transpose(1, 2), None


@functools.cache
def _register_decode_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(DECODE_ATTENTION, _decode_attention)
    AttentionMaskInterface.register(DECODE_ATTENTION, sdpa_mask)


@contextlib.contextmanager
def decode_attention(model: Any) -> Iterator[bool]:
    """Switch a CPU model on SDPA to ``DECODE_ATTENTION`` for the block; yields whether it did.

    Left alone: GPU models (their SDPA kernels handle one-token queries well; not measured here),
    models on eager or FlashAttention (the user chose), and architectures that do not dispatch
    through ``AttentionInterface``.
    """
    config = getattr(model, "config", None)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    device = next(model.parameters()).device
    usable = (config is not None and device.type == "cpu" and config._attn_implementation == "sdpa"
              and getattr(type(base), "_supports_attention_backend", False)
              and hasattr(base, "set_attn_implementation"))
    if not usable:
        yield False
        return
    _register_decode_attention()
    base.set_attn_implementation(DECODE_ATTENTION)
    try:
        yield base.config._attn_implementation == DECODE_ATTENTION
    finally:
        base.set_attn_implementation("sdpa")


def prefilled_cache(model: Any, rows: list[list[int]], device: Any, max_new_tokens: int) -> Any | None:
    """Run each prompt but its last token through the model alone, then left-pad them into one
    preallocated (static) key/value cache for the batch's decoding.

    Why: a padded prompt pass costs as much per padded position as per real one and (with a
    padding mask) falls off the fused causal-attention path, so on CPU it was slower than one
    prompt at a time. Prefilling separately costs exactly the sequential prompt pass; decoding is
    then batched. The cache is static because a growing one is re-concatenated at every step and
    layer: with 64 rows that copying was 60 % of the evaluation (measured with torch.profiler).
    Returns ``None`` (use the padded pass) when a prompt has fewer than two tokens or the model's
    cache is not a per-layer key/value cache.
    """
    import torch
    import torch.nn.functional as F
    from transformers import StaticCache

    if min(len(r) for r in rows) < 2:
        return None
    per_row = []
    for row in rows:
        out = model(input_ids=torch.tensor([row[:-1]], device=device), use_cache=True, logits_to_keep=1)
        layers = getattr(out.get(cache_kwarg_name()), "layers", None)
        if not layers or any(getattr(layer, "keys", None) is None for layer in layers):
            return None
        per_row.append([(layer.keys, layer.values) for layer in layers])
    width = max(len(r) for r in rows) - 1
    cache = StaticCache(config=model.config, max_cache_len=width + 1 + max_new_tokens)
    if len(cache.layers) != len(per_row[0]):
        return None
    for li, layer in enumerate(cache.layers):
        keys = torch.cat([F.pad(kv[li][0], (0, 0, width - kv[li][0].shape[2], 0)) for kv in per_row])
        values = torch.cat([F.pad(kv[li][1], (0, 0, width - kv[li][1].shape[2], 0)) for kv in per_row])
        layer.update(keys, values)  # allocates max_cache_len positions and fills the first `width`
    return cache


def compactable(cache: Any) -> bool:
    """True when every layer is a plain full-attention static layer, whose batch rows can be dropped.

    Sliding-window and linear-attention layers keep other per-row state, so those models decode
    with ``generate`` instead."""
    from transformers.cache_utils import StaticLayer

    return all(type(layer) is StaticLayer for layer in cache.layers)


def greedy_decode(model: Any, ids: Any, mask: Any, cache: Any, max_new_tokens: int,
                  eos: Sequence[int]) -> tuple[list[list[int]], int]:
    """Greedy tokens for a left-padded batch whose prompts (all but the last column) are in ``cache``.

    Returns each row's new tokens up to and including its EOS (or ``max_new_tokens`` of them) and
    the number of decode steps. Positions follow each row's own length, as ``generate`` derives
    them from the attention mask.
    """
    import torch

    rows, width = ids.shape
    device = ids.device
    attention = torch.zeros((rows, width + max_new_tokens), dtype=mask.dtype, device=device)
    attention[:, :width] = mask
    positions = mask.sum(dim=1) - 1  # the last prompt token's position in each row
    stop = torch.tensor(list(eos), device=device)
    token = ids[:, -1]
    live = torch.arange(rows, device=device)  # original row index of each row still in the batch
    done = torch.zeros(rows, dtype=torch.bool, device=device)
    outputs: list[list[int]] = [[] for _ in range(rows)]
    steps = 0
    for step in range(max_new_tokens):
        logits = model(input_ids=token[:, None], attention_mask=attention, position_ids=(positions + step)[:, None],
                       use_cache=True, logits_to_keep=1, **{cache_kwarg_name(): cache}).logits[:, -1]
        token = logits.float().argmax(dim=-1)
        steps += 1
        attention[:, width + step] = 1  # the column the token just chosen is written to next step
        was_done = done[live]
        for row, tok, finished in zip(live.tolist(), token.tolist(), was_done.tolist()):
            if not finished:
                outputs[row].append(tok)
        done[live] = was_done | torch.isin(token, stop)
        keep = ~done[live]
        if not bool(keep.any()):
            break
        if int((~keep).sum()) > COMPACT_FRACTION * len(live):
            index = keep.nonzero().squeeze(1)
            cache.reorder_cache(index)
            attention, positions, live, token = attention[index], positions[index], live[index], token[index]
    return outputs, steps
