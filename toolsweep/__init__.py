"""toolsweep: find the best SFT→DPO LoRA recipe for tool calling with Ray Tune sweeps."""

__version__ = "0.1.0"
