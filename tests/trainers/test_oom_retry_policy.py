"""The out-of-memory retry policy as pure functions: halving, the effective batch it keeps, when it gives
up, how attempts are recorded and read back, and how failures are classified and survive pickling."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from toolsweep.config.schema import SweepSpec
from toolsweep.trainers.failures import OutOfMemoryFailure, classify_failure, is_out_of_memory
from toolsweep.trainers.oom_retry import (
    MicroBatch,
    complete_last_attempt,
    describe_retries,
    given_up,
    micro_batches,
    next_micro_batches,
    oom_retry_budget,
    planned_micro_batches,
    ray_max_failures,
    read_attempts,
    smaller_micro_batch,
    with_micro_batches,
)


@pytest.mark.parametrize(("size", "accumulation", "chain"), [
    (8, 1, [(4, 2), (2, 4), (1, 8)]),
    (16, 2, [(8, 4), (4, 8), (2, 16), (1, 32)]),
    (9, 1, [(3, 3), (1, 9)]),
    (6, 3, [(3, 6), (1, 18)]),
    (1, 4, []),
])
def test_halving_keeps_the_effective_batch_until_one(size: int, accumulation: int, chain: list[tuple[int, int]]) -> None:
    current = MicroBatch(size, accumulation)
    seen = []
    while (current := smaller_micro_batch(current)) is not None:
        assert current.effective == size * accumulation
        seen.append((current.batch_size, current.gradient_accumulation_steps))
    assert seen == chain


def test_only_an_oom_in_a_training_stage_is_retried_and_only_that_stage_shrinks() -> None:
    plan = {"sft": MicroBatch(8, 1), "dpo": MicroBatch(4, 2)}
    assert next_micro_batches("oom", "dpo", plan) == {"sft": MicroBatch(8, 1), "dpo": MicroBatch(2, 4)}
    assert next_micro_batches("oom", "sft", plan) == {"sft": MicroBatch(4, 2), "dpo": MicroBatch(4, 2)}
    assert next_micro_batches("nan", "sft", plan) is None
    assert next_micro_batches("exception", "sft", plan) is None
    assert next_micro_batches("oom", "evaluation", plan) is None  # a smaller training batch would not help
    assert next_micro_batches("oom", None, plan) is None
    assert next_micro_batches("oom", "sft", {"sft": MicroBatch(1, 8)}) is None  # give up: reason oom


def test_spec_budget_and_ray_failures() -> None:
    spec = SweepSpec.model_validate({"sft": {"batch_size": 8}, "dpo": {"batch_size": 4, "gradient_accumulation_steps": 2},
                                     "search": {"max_failures": 1}})
    assert micro_batches(spec) == {"sft": MicroBatch(8, 1), "dpo": MicroBatch(4, 2)}
    assert oom_retry_budget(spec) == 3 + 2
    assert ray_max_failures(spec) == 1 + 5
    smaller = with_micro_batches(spec, {"sft": MicroBatch(2, 4)})
    assert (smaller.sft.batch_size, smaller.sft.gradient_accumulation_steps) == (2, 4)
    assert (smaller.dpo.batch_size, smaller.dpo.gradient_accumulation_steps) == (4, 2)
    no_dpo = SweepSpec.model_validate({"dpo": {"enabled": False}, "sft": {"batch_size": 4}})
    assert list(micro_batches(no_dpo)) == ["sft"] and oom_retry_budget(no_dpo) == 2
    assert ray_max_failures(no_dpo) == 1 + 2


def test_ray_allows_the_halvings_of_the_largest_searched_micro_batch() -> None:
    """Ray's one budget serves every trial, so it covers the largest micro-batch the search space can give."""
    from toolsweep.search_spaces import Choice, RandInt

    spec = SweepSpec.model_validate({"sft": {"batch_size": 4}, "dpo": {"enabled": False}, "search": {"max_failures": 0}})
    assert ray_max_failures(spec, {"sft.batch_size": Choice((2, 16))}) == 4  # 16 -> 8 -> 4 -> 2 -> 1
    assert ray_max_failures(spec, {"sft.batch_size": RandInt(1, 12)}) == 3  # 8 at most: 8 -> 4 -> 2 -> 1
    assert ray_max_failures(spec, {"dpo.enabled": Choice((True, False))}) == 2 + 3  # and DPO's default 8


def _write(trial_dir: Path, records: list[dict]) -> None:
    trial_dir.mkdir(parents=True, exist_ok=True)
    (trial_dir / "attempts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_attempts_are_completed_in_place_and_plan_the_next_one(tmp_path: Path) -> None:
    spec = SweepSpec.model_validate({"sft": {"batch_size": 4}, "dpo": {"batch_size": 2}})
    _write(tmp_path, [{"started": 1, "micro_batches": {"sft": [4, 1], "dpo": [2, 1]}}])
    complete_last_attempt(tmp_path, {"failure": {"kind": "oom", "stage": "sft", "message": "m"},
                                     "retry": {"sft": [2, 2], "dpo": [2, 1]}})
    with (tmp_path / "attempts.jsonl").open("a") as handle:
        handle.write(json.dumps({"started": 2, "micro_batches": {"sft": [2, 2], "dpo": [2, 1]}}) + "\n")
        handle.write('{"started": 3, "cut off by a cra')  # a crash mid-write
    attempts = read_attempts(tmp_path)
    assert len(attempts) == 2 and attempts[0]["retry"] == {"sft": [2, 2], "dpo": [2, 1]}
    assert planned_micro_batches(spec, attempts) == {"sft": MicroBatch(2, 2), "dpo": MicroBatch(2, 1)}
    assert given_up(attempts) is None
    assert describe_retries(attempts) == "1 out-of-memory retry: sft micro-batch 4 -> 2 (accumulation 1 -> 2)"


def test_giving_up_is_recorded_and_described(tmp_path: Path) -> None:
    failure = {"kind": "oom", "stage": "sft", "message": "sft: out of memory even at micro-batch 1"}
    _write(tmp_path, [
        {"micro_batches": {"sft": [2, 1]}, "failure": {"kind": "oom", "stage": "sft"}, "retry": {"sft": [1, 2]}},
        {"micro_batches": {"sft": [1, 2]}, "failure": failure, "gave_up": True},
    ])
    attempts = read_attempts(tmp_path)
    assert given_up(attempts) == failure
    assert describe_retries(attempts) == "1 out-of-memory retry then gave up: sft micro-batch 2 -> 1 (accumulation 1 -> 2)"
    assert describe_retries(attempts[:0]) is None


def test_out_of_memory_errors_are_recognised_with_their_stage() -> None:
    import torch

    cpu = RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
                       "you tried to allocate 1073741824 bytes. Error code 12 (Cannot allocate memory)")
    for exc in (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), MemoryError(), cpu):
        assert is_out_of_memory(exc)
        failure = classify_failure(exc, "1 CPU, 0.25 GPU per worker", "dpo")
        assert isinstance(failure, OutOfMemoryFailure) and failure.kind == "oom" and failure.stage == "dpo"
        assert "dpo.batch_size" in failure.message and "0.25 GPU" in failure.message
    assert not is_out_of_memory(ValueError("boom"))
    evaluation = classify_failure(MemoryError(), "1 CPU", "evaluation")
    assert "eval.batch_size" in evaluation.message
    back = pickle.loads(pickle.dumps(classify_failure(MemoryError(), "1 CPU", "sft")))  # to the Ray driver and back
    assert isinstance(back, OutOfMemoryFailure) and back.stage == "sft" and back.kind == "oom"
