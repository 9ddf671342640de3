"""Training jobs: prepare, synthetic data, LoRA SFT, merge, GRPO."""
