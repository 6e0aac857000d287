"""Facts the spec is checked against: GPUs, model architectures and vLLM's metrics per release."""
