"""The full fine-tuning loop of the built-in model: plain torch, seeded, checkpointed, resumable.

A plain loop rather than TRL's SFTTrainer: the build needs nothing but batching, a weighted token loss and a
schedule, and a short loop is easy to keep deterministic (same seed and thread count, same weights) and to
resume exactly: a checkpoint holds the weights, the optimizer, the step, the batch queue and the random
states, so a resumed build takes the same batches it would have taken. Batches group conversations of
similar length, because on a CPU every padding token costs as much as a real one. On CPUs with native bf16
(and on GPUs) the forward and backward passes run under bf16 autocast; weights and optimizer stay fp32.

Progress is logged as loss and *teacher-forced exact rate* on the copy probe: the fraction of conversations
whose every assistant token is the model's argmax. That equals greedy-decoding exact match against the
reference rendering, at the cost of one forward pass and no parser.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolsweep.trainers.memory import TRIM_EVERY_STEPS, release_freed_memory

if TYPE_CHECKING:
    from toolsweep.trainers.build_builtin import BuildConfig

__all__ = ["Checkpoint", "batches", "lr_at", "pretrain"]

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


def _token_losses(model: Any, ids: Any, attn: Any, bf16: bool) -> tuple[Any, Any]:
    """Per-token cross-entropy of predicting ``ids[:, 1:]`` and the argmax-correct flags (loss in fp32)."""
    import torch
    import torch.nn.functional as F

    with torch.autocast(ids.device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1]
    logits = logits.float()
    target = ids[:, 1:]
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), reduction="none")
    return loss.view_as(target), logits.argmax(-1) == target


def evaluate(model: Any, data: Encoded, pad_id: int, batch_size: int, device: str = "cpu",
             bf16: bool = False) -> dict[str, float]:
    """Assistant-token loss and teacher-forced exact rate on ``data``."""
    import torch

    model.eval()
    total, count, exact = 0.0, 0, 0
    with torch.no_grad():
        order = sorted(range(len(data)), key=lambda i: len(data[i][0]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            ids, attn, weight = _collate(data, idx, pad_id, 0.0, device)
            loss, correct = _token_losses(model, ids, attn, bf16)
            w = weight[:, 1:]
            total += float((loss * w).sum())
            count += int(w.sum())
            exact += int(((correct | (w == 0)).all(dim=1)).sum())
    model.train()
    return {"val_loss": round(total / max(count, 1), 4), "val_exact": round(exact / max(len(data), 1), 4)}


@dataclass
class Checkpoint:
    """``OUT/checkpoint``: the tokenizer (saved once) and ``state.pt`` (rewritten atomically)."""

    path: Path

    def save(self, state: dict[str, Any]) -> None:
        import torch

        self.path.mkdir(parents=True, exist_ok=True)
        partial = self.path / f"state.pt.{os.getpid()}.tmp"
        torch.save(state, partial)
        partial.replace(self.path / "state.pt")

    def load(self, cfg: BuildConfig) -> dict[str, Any] | None:
        """The saved state, or None; a checkpoint of other options is refused (it would not resume the same
        build), except ``steps``: a build may be lengthened or shortened past its current step, which redraws
        the cosine tail from there on and is recorded in the history."""
        import dataclasses

        import torch

        file = self.path / "state.pt"
        if not file.is_file():
            return None
        state = torch.load(file, weights_only=False)
        free = ("time_limit_s", "threads", "steps")
        saved = {k: v for k, v in state["config"].items() if k not in free}
        asked = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in free}
        if saved != asked:
            changed = sorted(k for k in asked if saved.get(k) != asked[k])
            raise ValueError(f"--resume: {file} was written with other build options ({', '.join(changed)}); "
                             "resume with the same options, or delete the checkpoint to start over")
        if cfg.steps != state["config"]["steps"]:
            if cfg.steps <= state["step"]:
                raise ValueError(f"--resume: --steps {cfg.steps} is not past the checkpoint's step {state['step']}")
            state["history"].append({"resumed_at_step": state["step"],
                                     "steps_changed": [state["config"]["steps"], cfg.steps]})
        return state

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def pretrain(model: Any, train: Encoded, val: Encoded, cfg: BuildConfig, *, pad_id: int, log: Any = print,
             checkpoint: Checkpoint | None = None, state: dict[str, Any] | None = None,
             data_sha256: str = "") -> list[dict[str, Any]]:
    """Train ``model`` in place up to ``cfg.steps`` steps, from ``state`` when resuming; returns the history.

    A history that ends with ``{"stopped_at_step": N}`` stopped at ``cfg.time_limit_s``."""
    import dataclasses

    import torch

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    history: list[dict[str, Any]] = []
    queue: list[list[int]] = []
    first = 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        queue, history, first = state["queue"], state["history"], state["step"]
        # Only a checkpoint without a data hash can meet other data (build() refuses a mismatch): keep the
        # batches' indices that still exist.
        queue = [b for b in ([i for i in batch if i < len(train)] for batch in queue) if b]
        log(f"resumed at step {first} of {cfg.steps}")
    bf16 = cfg.autocast_bf16
    model.train()
    running, ran, start = 0.0, 0, time.time()
    for step in range(first, cfg.steps):
        if not queue:
            queue = batches(train, cfg.batch_size, rng)
        ids, attn, weight = _collate(train, queue.pop(), pad_id, cfg.prompt_loss_weight, cfg.device)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss_tok, _ = _token_losses(model, ids, attn, bf16)
        w = weight[:, 1:]
        loss = (loss_tok * w).sum() / w.sum().clamp(min=1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item()
        ran += 1
        done = step + 1
        if done % TRIM_EVERY_STEPS == 0:
            release_freed_memory()  # batches of every length otherwise grow the heap by gigabytes
        if done % cfg.eval_every == 0 or done == cfg.steps:
            record = {"step": done, "train_loss": round(running / max(ran, 1), 4), "lr": round(lr_at(step, cfg), 6),
                      **evaluate(model, val, pad_id, cfg.batch_size, cfg.device, bf16),
                      "segment_s": round(time.time() - start, 1)}
            history.append(record)
            log(" ".join(f"{k}={v}" for k, v in record.items()))
            running, ran, start = 0.0, 0, time.time()
        stop = (cfg.time_limit_s and done % cfg.eval_every == 0 and done < cfg.steps
                and _elapsed(history, first) > cfg.time_limit_s)
        if checkpoint is not None and (stop or done % cfg.checkpoint_every == 0 or done == cfg.steps):
            checkpoint.save({"config": dataclasses.asdict(cfg), "step": done, "model": model.state_dict(),
                             "optimizer": opt.state_dict(), "rng": rng.getstate(), "torch_rng": torch.get_rng_state(),
                             "queue": queue, "history": history, "train_sha256": data_sha256})
        if stop:
            history.append({"stopped_at_step": done, "reason": f"time_limit_s={cfg.time_limit_s}"})
            log(f"time limit reached: stopping at step {done} of {cfg.steps}")
            break
    return history


def _elapsed(history: list[dict[str, Any]], first_step: int) -> float:
    """Training seconds spent in this process (records after the step it resumed from)."""
    return sum(h.get("segment_s", 0.0) for h in history if h.get("step", 0) > first_step)
