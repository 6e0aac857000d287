"""How long a cold start takes: download, load each GPU's share, engine start-up."""

from __future__ import annotations

import math

from vllm_infra.capacity.memory import served_weights_bytes
from vllm_infra.catalog.architectures import ModelArchitecture
from vllm_infra.vocabulary.limits import MIN_STARTUP_SECONDS
from vllm_infra.vocabulary.units import MIB_BYTES

DOWNLOAD_MIB_PER_S = 250
"""Assumed Hugging Face download throughput for a cold start."""
LOAD_MIB_PER_S = 1000
"""Assumed local read throughput when loading weights into each GPU."""
ENGINE_INIT_SECONDS = 180
"""Engine start-up besides weights: torch.compile, CUDA graph capture, KV cache allocation."""


def startup_seconds(arch: ModelArchitecture, *, dtype: str, quantization: str | None, gpus: int,
                    downloads: bool) -> int:
    """Cold-start budget: download (unless the cache is pre-populated), load each GPU's share,
    engine initialisation; rounded up to a minute, at least ``MIN_STARTUP_SECONDS``
    (``quantization``: the format vLLM runs)."""
    total = served_weights_bytes(arch, dtype, quantization)
    seconds = ENGINE_INIT_SECONDS + total / gpus / (LOAD_MIB_PER_S * MIB_BYTES)
    if downloads:
        seconds += total / (DOWNLOAD_MIB_PER_S * MIB_BYTES)
    return max(MIN_STARTUP_SECONDS, math.ceil(seconds / 60) * 60)
