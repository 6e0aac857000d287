"""How long a cold start takes: getting the weights (download, image pull, object-store stream),
loading each GPU's share, engine start-up."""

from __future__ import annotations

import math

from vllm_infra.capacity.memory import served_weights_bytes
from vllm_infra.catalog.architectures import ModelArchitecture
from vllm_infra.vocabulary.limits import MIN_STARTUP_SECONDS
from vllm_infra.vocabulary.units import MIB_BYTES

DOWNLOAD_MIB_PER_S = 250
"""Assumed Hugging Face download (or registry pull) throughput for a cold start."""
STREAM_MIB_PER_S = 1000
"""Assumed object-store throughput of the Run:ai model streamer, which reads the weights straight
into GPU memory (no local copy, no separate load)."""
LOAD_MIB_PER_S = 1000
"""Assumed local read throughput when loading weights into each GPU (also unpacking an image)."""
ENGINE_INIT_SECONDS = 180
"""Engine start-up besides weights: torch.compile, CUDA graph capture, KV cache allocation."""


def _minutes(seconds: float) -> int:
    return math.ceil(seconds / 60) * 60


def startup_seconds(arch: ModelArchitecture, *, dtype: str, quantization: str | None, gpus: int,
                    transfer_mib_per_s: float | None, streamed: bool = False) -> int:
    """Cold-start budget from the container's start: the transfer it makes itself (a download at
    ``transfer_mib_per_s``, None when the weights are already local), loading each GPU's share, engine
    initialisation; with ``streamed`` the stream at ``transfer_mib_per_s`` is the load. Rounded up to
    a minute, at least ``MIN_STARTUP_SECONDS`` (``quantization``: the format vLLM runs)."""
    total = served_weights_bytes(arch, dtype, quantization)
    if streamed:
        assert transfer_mib_per_s is not None, "a stream has a throughput"
        seconds = ENGINE_INIT_SECONDS + total / (transfer_mib_per_s * MIB_BYTES)
    else:
        seconds = ENGINE_INIT_SECONDS + total / gpus / (LOAD_MIB_PER_S * MIB_BYTES)
        if transfer_mib_per_s is not None:
            seconds += total / (transfer_mib_per_s * MIB_BYTES)
    return max(MIN_STARTUP_SECONDS, _minutes(seconds))


def transfer_seconds(arch: ModelArchitecture, *, dtype: str, quantization: str | None, mib_per_s: float,
                     unpacked: bool = False) -> int:
    """Seconds to move the served weights at ``mib_per_s`` before the server starts (a prefetch
    download, an image pull; with ``unpacked`` also writing them out locally), rounded up to a minute."""
    total = served_weights_bytes(arch, dtype, quantization)
    seconds = total / (mib_per_s * MIB_BYTES) + (total / (LOAD_MIB_PER_S * MIB_BYTES) if unpacked else 0)
    return _minutes(seconds)
