"""SFT and DPO stages through TRL with PEFT LoRA, and DeepSpeed ZeRO for multi-worker trials. No Ray here:
a trial is a plain function the sweep driver calls."""
