"""SFT and DPO stages on a tiny random model: they train, keep the base frozen, resume, and DPO's
reference is the SFT model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from tests.trainers.conftest import pairs_from
from toolsweep.config.schema import DPOStage, LoraConfig, SFTStage
from toolsweep.trainers import stages
from toolsweep.trainers.callbacks import MetricsCallback
from toolsweep.trainers.datasets import preference_dataset, sft_dataset
from toolsweep.trainers.hardware import choose_precision
from toolsweep.trainers.lora import peft_config

SFT = SFTStage(learning_rate=5e-3, max_steps=12, batch_size=4, eval_every=6, max_length=256, warmup_ratio=0.0)
DPO = DPOStage(learning_rate=5e-3, max_steps=12, batch_size=4, eval_every=6, max_length=256, beta=0.1, warmup_ratio=0.0)
LORA = LoraConfig(r=8)


def _load(path: Path):
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _setup(seed: int = 0) -> stages.TrainingSetup:
    return stages.TrainingSetup(choose_precision("auto"), seed=seed, keep_checkpoints=2)


def _sft(tiny_model_dir: Path, examples: list[dict], stage_dir: Path, seed: int = 0, callbacks=()):
    model, tokenizer = _load(tiny_model_dir)
    logs: list[dict] = []
    cbs = [MetricsCallback("sft", logs.append), *callbacks]
    result, trained = stages.run_stage(SFT, _setup(seed), model, tokenizer, sft_dataset(examples), stage_dir,
                                       peft_config=peft_config(LORA), callbacks=cbs)
    return result, trained, [log["sft/loss"] for log in logs if "sft/loss" in log]


def test_lora_sft_lowers_loss_and_keeps_base_frozen(tiny_model_dir: Path, examples: list[dict], tmp_path: Path) -> None:
    base_before = {k: v.clone() for k, v in AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict().items()}
    result, trained, losses = _sft(tiny_model_dir, examples, tmp_path / "sft")
    assert result.steps == SFT.max_steps
    assert losses[-1] < losses[0]
    for name, param in trained.named_parameters():
        if "lora_" not in name:
            assert not param.requires_grad, name
            key = name.replace("base_model.model.", "").replace(".base_layer", "")
            if key in base_before:
                assert torch.equal(param.detach(), base_before[key]), f"base weight {key} moved"
    adapter = load_file(Path(result.model_dir) / "adapter_model.safetensors")
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in adapter.items()), "the adapter did not move"
    assert stages.completed_stage(tmp_path / "sft") == result


def test_same_seed_gives_the_same_loss_curve(tiny_model_dir: Path, examples: list[dict], tmp_path: Path) -> None:
    first = _sft(tiny_model_dir, examples, tmp_path / "a", seed=3)[2]
    second = _sft(tiny_model_dir, examples, tmp_path / "b", seed=3)[2]
    assert first == second


class _CrashAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise RuntimeError("simulated crash")


def test_resume_continues_from_the_last_checkpoint(tiny_model_dir: Path, examples: list[dict], tmp_path: Path) -> None:
    """Also the loss log the learning-curve plot draws (the reports to Tune carry the loss only at validation
    points): a stage stopped mid-way (by ASHA, or a crash) has it in its newest checkpoint, and the resumed
    stage's ``stage.json`` keeps the steps logged before the crash."""
    with pytest.raises(RuntimeError, match="simulated crash"):
        _sft(tiny_model_dir, examples, tmp_path / "sft", callbacks=[_CrashAt(9)])
    assert (tmp_path / "sft" / "checkpoint-6").is_dir()
    stopped = stages.training_losses(tmp_path / "sft")
    assert [line["step"] for line in stopped] == [1, 2, 3, 4, 5, 6]  # logging_steps is 1 for 12 steps
    result, _, losses = _sft(tiny_model_dir, examples, tmp_path / "sft")
    assert result.resumed_from_step == 6
    assert result.steps == SFT.max_steps
    assert 0 < len(losses) < SFT.max_steps  # only the steps after the checkpoint were trained
    assert [line["step"] for line in result.losses] == list(range(1, SFT.max_steps + 1))
    assert result.losses[:6] == stopped
    assert [line["loss"] for line in result.losses[6:]] == pytest.approx(losses[-6:])
    assert stages.training_losses(tmp_path / "sft") == result.losses == stages.completed_stage(tmp_path / "sft").losses
    assert stages.training_losses(tmp_path / "never-ran") == []


def test_resume_skips_a_checkpoint_cut_off_mid_save(tiny_model_dir: Path, examples: list[dict], tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="simulated crash"):
        _sft(tiny_model_dir, examples, tmp_path / "sft", callbacks=[_CrashAt(9)])
    # A node lost while saving step 9: the weights are written, the Trainer's state file (written last) is not.
    partial = tmp_path / "sft" / "checkpoint-9"
    partial.mkdir()
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        (partial / name).write_bytes((tmp_path / "sft" / "checkpoint-6" / name).read_bytes())
    result, _, _ = _sft(tiny_model_dir, examples, tmp_path / "sft")
    assert result.resumed_from_step == 6
    assert result.steps == SFT.max_steps


def test_dpo_continues_the_sft_adapter_against_an_sft_reference(tiny_model_dir: Path, examples: list[dict], tmp_path: Path) -> None:
    from peft import PeftModel

    sft_result, _, _ = _sft(tiny_model_dir, examples, tmp_path / "sft")
    base, tokenizer = _load(tiny_model_dir)
    model = PeftModel.from_pretrained(base, sft_result.model_dir, is_trainable=True)
    logs: list[dict] = []
    dpo_dir = tmp_path / "dpo"
    result, trained = stages.run_stage(DPO, _setup(), model, tokenizer, preference_dataset(pairs_from(examples)),
                                       dpo_dir, callbacks=[MetricsCallback("dpo", logs.append)])
    # The reference TRL used is a frozen copy of the SFT adapter, not the bare base model.
    sft_adapter = load_file(Path(sft_result.model_dir) / "adapter_model.safetensors")
    ref = {n: p for n, p in trained.named_parameters() if ".ref." in n}
    assert ref, "DPO did not keep an SFT reference adapter"
    for name, param in ref.items():
        key = name.replace(".ref.", ".")
        assert torch.equal(param.detach(), sft_adapter[key]), key
    accuracies = [log["dpo/rewards/accuracies"] for log in logs if "dpo/rewards/accuracies" in log]
    margins = [log["dpo/rewards/margins"] for log in logs if "dpo/rewards/margins" in log]
    assert accuracies[-1] >= 0.9 and margins[-1] > margins[0]
    assert result.steps == DPO.max_steps


def test_packed_examples_do_not_attend_to_each_other(tiny_model_dir: Path, examples: list[dict]) -> None:
    """What makes padding-free packing correct without FlashAttention: restarting position_ids (and no
    attention mask or cache, as TRL trains) give each packed example a block of its own."""
    model, tokenizer = _load(tiny_model_dir)
    ids = [tokenizer.apply_chat_template(ex["messages"], tools=ex["tools"], return_dict=True)["input_ids"]
           for ex in examples[:3]]
    with torch.no_grad():
        separate = torch.cat([model(input_ids=torch.tensor([i]), use_cache=False).logits[0] for i in ids])
        flat = torch.tensor([[t for i in ids for t in i]])
        positions = torch.tensor([[p for i in ids for p in range(len(i))]])
        packed = model(input_ids=flat, position_ids=positions, use_cache=False).logits[0]
        leaked = model(input_ids=flat, use_cache=False).logits[0]
    assert torch.allclose(packed, separate, atol=1e-4)
    assert not torch.allclose(leaked, separate, atol=1e-2)  # the check can fail: without positions they mix


@pytest.mark.parametrize("option", ["packing", "group_by_length"])
def test_sft_batching_options_train(option: str, tiny_model_dir: Path, examples: list[dict], tmp_path: Path) -> None:
    stage = SFT.model_copy(update={option: True})
    args = stages.training_arguments(stage, tmp_path, _setup())
    assert args["padding_free"] is (option == "packing")
    assert args["train_sampling_strategy"] == ("group_by_length" if option == "group_by_length" else "random")
    model, tokenizer = _load(tiny_model_dir)
    logs: list[dict] = []
    result, _ = stages.run_stage(stage, _setup(), model, tokenizer, sft_dataset(examples), tmp_path,
                                 peft_config=peft_config(LORA), callbacks=[MetricsCallback("sft", logs.append)])
    losses = [log["sft/loss"] for log in logs if "sft/loss" in log]
    assert result.steps == stage.max_steps and losses[-1] < losses[0]


def test_training_arguments_come_from_the_typed_stage_config(tmp_path: Path) -> None:
    """The shared fields follow the stage and the trial's setup; each stage adds only its own, so a DPO field
    never reaches SFTConfig (it would be an error) and SFT's loss masking never reaches DPO."""
    setup = stages.TrainingSetup(choose_precision("fp32"), seed=7, keep_checkpoints=3, deepspeed={"zero": 1})
    sft = stages.training_arguments(SFT, tmp_path / "sft", setup)
    dpo = stages.training_arguments(DPO.model_copy(update={"beta": 0.3}), tmp_path / "dpo", setup)
    for args, stage, where in ((sft, SFT, "sft"), (dpo, DPO, "dpo")):
        assert args["output_dir"] == str(tmp_path / where)
        assert (args["max_steps"], args["learning_rate"], args["save_steps"]) == (stage.max_steps, stage.learning_rate,
                                                                                   stage.eval_every)
        assert (args["seed"], args["data_seed"], args["save_total_limit"]) == (7, 7, 3)
        assert args["deepspeed"] == {"zero": 1} and args["report_to"] == []
    assert sft["assistant_only_loss"] is True and "beta" not in sft
    assert dpo["beta"] == 0.3 and dpo["loss_type"] == [DPO.loss_type] and "assistant_only_loss" not in dpo


def test_dpo_sft_weight_adds_trl_sft_loss_term(tmp_path: Path) -> None:
    """``dpo.sft_weight`` becomes TRL's combined loss (DPO + weight x NLL of the chosen answers), which
    DPOConfig accepts as is; at 0 the loss stays DPO's alone."""
    from trl import DPOConfig

    setup = stages.TrainingSetup(choose_precision("fp32"), seed=0, keep_checkpoints=1, deepspeed=None)
    args = stages.training_arguments(DPO.model_copy(update={"sft_weight": 0.5}), tmp_path / "dpo", setup)
    assert args["loss_type"] == [DPO.loss_type, "sft"] and args["loss_weights"] == [1.0, 0.5]
    config = DPOConfig(**args)
    assert config.loss_type == [DPO.loss_type, "sft"] and config.loss_weights == [1.0, 0.5]
    plain = stages.training_arguments(DPO, tmp_path / "dpo", setup)
    assert "loss_weights" not in plain and plain["loss_type"] == [DPO.loss_type]
