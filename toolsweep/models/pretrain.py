"""The full fine-tuning loop of the built-in model: plain torch, fp32 on a CPU (bf16 autocast on a GPU), seeded.

A plain loop rather than TRL's SFTTrainer: the build needs nothing but batching, a weighted
token loss and a schedule, and a short loop is easy to make bit-for-bit deterministic (same seed
and thread count, same weights). Batches group conversations of similar length, because on a CPU
every padding token costs as much as a real one.

Progress is logged as validation loss and *teacher-forced exact rate*: the fraction of validation
conversations whose every assistant token is the model's argmax. That equals the greedy-decoding
exact match against the reference rendering, at the cost of one forward pass and no parser.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolsweep.models.build import BuildConfig

__all__ = ["batches", "lr_at", "pretrain"]

Encoded = list[tuple[list[int], list[int]]]
_CHUNK = 64
"""Batches per length-sorted chunk: larger means less padding but batch order less random."""


def batches(data: Encoded, batch_size: int, rng: random.Random) -> list[list[int]]:
    """One epoch of index batches: shuffle, sort chunks by length, cut into batches, shuffle batches."""
    order = list(range(len(data)))
    rng.shuffle(order)
    out: list[list[int]] = []
    span = batch_size * _CHUNK
    for start in range(0, len(order), span):
        chunk = sorted(order[start:start + span], key=lambda i: len(data[i][0]))
        out.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(out)
    return out


def lr_at(step: int, cfg: BuildConfig) -> float:
    """Linear warmup to ``cfg.lr``, then cosine decay to ``cfg.lr * cfg.min_lr_ratio``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _collate(data: Encoded, idx: list[int], pad_id: int, prompt_weight: float,
             device: str = "cpu") -> tuple[Any, Any, Any]:
    import torch

    width = max(len(data[i][0]) for i in idx)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(idx), width), dtype=torch.long)
    weight = torch.zeros((len(idx), width), dtype=torch.float32)
    for row, i in enumerate(idx):
        tokens, mask = data[i]
        n = len(tokens)
        ids[row, :n] = torch.tensor(tokens)
        attn[row, :n] = 1
        weight[row, :n] = torch.tensor([1.0 if m else prompt_weight for m in mask])
    return ids.to(device), attn.to(device), weight.to(device)  # no copy when already there (CPU)


def _token_losses(model: Any, ids: Any, attn: Any) -> tuple[Any, Any]:
    """Per-token cross-entropy of predicting ``ids[:, 1:]`` and the argmax-correct flags.

    On a GPU the forward pass runs under bf16 autocast; the loss is taken in fp32 either way."""
    import torch
    import torch.nn.functional as F

    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=ids.is_cuda):
        logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1]
    logits = logits.float()
    target = ids[:, 1:]
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), reduction="none")
    return loss.view_as(target), logits.argmax(-1) == target


def evaluate(model: Any, data: Encoded, pad_id: int, batch_size: int, device: str = "cpu") -> dict[str, float]:
    """Assistant-token loss and teacher-forced exact rate on ``data``."""
    import torch

    model.eval()
    total, count, exact = 0.0, 0, 0
    with torch.no_grad():
        order = sorted(range(len(data)), key=lambda i: len(data[i][0]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            ids, attn, weight = _collate(data, idx, pad_id, 0.0, device)
            loss, correct = _token_losses(model, ids, attn)
            w = weight[:, 1:]
            total += float((loss * w).sum())
            count += int(w.sum())
            exact += int(((correct | (w == 0)).all(dim=1)).sum())
    model.train()
    return {"val_loss": round(total / max(count, 1), 4), "val_exact": round(exact / max(len(data), 1), 4)}


def pretrain(model: Any, train: Encoded, val: Encoded, cfg: BuildConfig, *, pad_id: int,
             log: Any = print) -> list[dict[str, Any]]:
    """Train ``model`` in place for ``cfg.steps`` steps; returns the logged history."""
    import time

    import torch

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    model.train()
    history: list[dict[str, Any]] = []
    queue: list[list[int]] = []
    running, start = 0.0, time.time()
    drill_rows = cfg.drill_steps * cfg.batch_size  # generate_data put the drill phase's rows first
    drill_data, main_data = train[:drill_rows], train[drill_rows:]
    for step in range(cfg.steps):
        data = drill_data if step < cfg.drill_steps else main_data
        if step == cfg.drill_steps:
            queue = []  # the drill phase is over: start an epoch of the main data
        if not queue:
            queue = batches(data, cfg.batch_size, rng)
        ids, attn, weight = _collate(data, queue.pop(), pad_id, cfg.prompt_loss_weight, cfg.device)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss_tok, _ = _token_losses(model, ids, attn)
        w = weight[:, 1:]
        loss = (loss_tok * w).sum() / w.sum().clamp(min=1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item()
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.steps:
            n = done % cfg.eval_every or cfg.eval_every
            record = {"step": done, "train_loss": round(running / n, 4), "lr": round(lr_at(step, cfg), 6),
                      **evaluate(model, val, pad_id, cfg.batch_size, cfg.device),
                      "elapsed_s": round(time.time() - start, 1)}
            history.append(record)
            log(" ".join(f"{k}={v}" for k, v in record.items()))
            running = 0.0
            if cfg.time_limit_s and time.time() - start > cfg.time_limit_s and done < cfg.steps:
                history.append({"stopped_at_step": done, "reason": f"time_limit_s={cfg.time_limit_s}"})
                log(f"time limit reached: stopping at step {done} of {cfg.steps}")
                break
    return history
