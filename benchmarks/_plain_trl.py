"""The baseline for benchmarks/train_overhead.py: the same SFT → DPO → evaluation work written as a
plain TRL + PEFT script, the way a user would without toolsweep. Same data, hyperparameters and evaluator.

Run: python benchmarks/_plain_trl.py SWEEP.yaml OUT_DIR
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def main(sweep_path: str, out: str) -> None:
    started = time.perf_counter()
    from datasets import Dataset
    from peft import LoraConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    from toolsweep.config import load_sweep
    from toolsweep.data.prepare import prepare_data
    from toolsweep.evaluation.runner import evaluate
    from toolsweep.models.registry import resolve_model

    spec = load_sweep(sweep_path).spec
    set_seed(spec.seed)
    data = prepare_data(spec)
    path = resolve_model(spec.model.name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype="float32")

    def score(m: object) -> float:
        report = evaluate(m, tokenizer, data.validation, max_new_tokens=spec.eval.max_new_tokens)
        return report.metrics.exact_match.value

    base_acc = score(model)
    rows = [{"messages": e["messages"], "tools": json.dumps(e["tools"])} for e in data.train]
    common = {"report_to": [], "use_cpu": True, "bf16": False, "activation_checkpointing": False, "disable_tqdm": True,
                  "save_strategy": "no", "logging_steps": 10, "seed": spec.seed, "data_seed": spec.seed, "dataloader_num_workers": 0}
    sft = spec.sft
    sft_args = SFTConfig(output_dir=f"{out}/sft", max_steps=sft.max_steps, per_device_train_batch_size=sft.batch_size,
                         learning_rate=sft.learning_rate, lr_scheduler_type=sft.lr_scheduler,
                         warmup_steps=int(sft.warmup_ratio * sft.max_steps), max_length=sft.max_length,
                         assistant_only_loss=True, packing=sft.packing, padding_free=sft.packing,
                         train_sampling_strategy="group_by_length" if sft.group_by_length else "random", **common)
    lora = LoraConfig(r=spec.lora.r, lora_alpha=spec.lora.alpha or 2 * spec.lora.r, lora_dropout=spec.lora.dropout,
                      target_modules=spec.lora.target_modules, task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=sft_args, train_dataset=Dataset.from_list(rows, on_mixed_types="use_json"),
                         processing_class=tokenizer, peft_config=lora)
    trainer.train()
    trainer.save_model(f"{out}/sft/final")
    sft_acc = score(trainer.model)
    dpo = spec.dpo
    pairs = [{"prompt": p["prompt"], "chosen": p["chosen"], "rejected": p["rejected"], "tools": json.dumps(p["tools"])} for p in data.pairs]
    policy = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(path, dtype="float32"), f"{out}/sft/final", is_trainable=True)
    dpo_args = DPOConfig(output_dir=f"{out}/dpo", max_steps=dpo.max_steps, per_device_train_batch_size=dpo.batch_size,
                         learning_rate=dpo.learning_rate, lr_scheduler_type=dpo.lr_scheduler,
                         warmup_steps=int(dpo.warmup_ratio * dpo.max_steps), max_length=dpo.max_length,
                         beta=dpo.beta, loss_type=[dpo.loss_type], **common)
    dpo_trainer = DPOTrainer(model=policy, ref_model=None, args=dpo_args, processing_class=tokenizer,
                             train_dataset=Dataset.from_list(pairs, on_mixed_types="use_json"))
    dpo_trainer.train()
    dpo_trainer.save_model(f"{out}/dpo/final")
    final_acc = score(dpo_trainer.model)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"base": base_acc, "sft": sft_acc, "final": final_acc, "seconds": time.perf_counter() - started,
                      "peak_mb": peak_mb}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
