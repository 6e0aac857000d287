"""Host memory of a vLLM pod beyond its memory-backed volumes: the processes themselves, and the
host-side tiers vLLM allocates when asked to (CPU KV-cache offload, CPU weight offload, V0 swap
space, sleep-mode weight backup)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vllm_infra.catalog.vllm import V1_ENGINE_SINCE, VllmVersion
from vllm_infra.vocabulary.units import GIB_BYTES, format_gib

HOST_MEMORY_HEADROOM_BYTES = 8 * GIB_BYTES
"""Host memory the vLLM processes need besides the tiers below (tokenizer, API server, Python and
CUDA host allocations, weights staged while loading); an assumption, not a measurement, and the
floor VI-RES-002 and the spec require."""


@dataclass(frozen=True)
class HostMemoryNeeds:
    """What a pod's memory limit must hold besides its memory-backed volumes (bytes)."""

    processes: float = HOST_MEMORY_HEADROOM_BYTES
    kv_offload: float = 0.0
    """``--kv-offloading-size`` GiB: the CPU KV-cache tier, for the whole pod."""
    weight_offload: float = 0.0
    """``--cpu-offload-gb`` per GPU: weights kept in host memory."""
    swap: float = 0.0
    """``--swap-space`` per GPU (V0 only; V1 allocates none)."""
    sleep_backup: float = 0.0
    """``--enable-sleep-mode``: level-1 sleep copies the pod's weights to host memory."""
    lora_cache: float = 0.0
    """``--max-cpu-loras`` adapters of ``--max-lora-rank`` held in host memory."""

    @property
    def tiers(self) -> float:
        """What the flags add beyond the processes."""
        return self.kv_offload + self.weight_offload + self.swap + self.sleep_backup + self.lora_cache

    @property
    def total(self) -> float:
        return self.processes + self.tiers

    def describe(self) -> str:
        """``8.0 GiB for the vLLM processes + 40.0 GiB of CPU KV cache (--kv-offloading-size)``."""
        parts = [f"{format_gib(self.processes)} for the vLLM processes"]
        for amount, what in ((self.kv_offload, "of CPU KV cache (--kv-offloading-size)"),
                             (self.weight_offload, "of offloaded weights (--cpu-offload-gb)"),
                             (self.swap, "of swap space (--swap-space)"),
                             (self.sleep_backup, "of sleep-mode weight backup (--enable-sleep-mode)"),
                             (self.lora_cache, "of CPU LoRA cache (--max-cpu-loras)")):
            if amount:
                parts.append(f"{format_gib(amount)} {what}")
        return " + ".join(parts)


def _gib(value: object) -> float:
    """A GiB flag value as bytes (0 when absent, a switch, or not a number)."""
    if isinstance(value, bool) or value is None:
        return 0.0
    try:
        return max(0.0, float(str(value))) * GIB_BYTES
    except ValueError:
        return 0.0


def host_needs(flags: Mapping[str, object], *, gpus: int, version: VllmVersion | None,
               weights_per_pod: float | None, lora_cache: float = 0.0) -> HostMemoryNeeds:
    """Host memory for the engine flags given (names without ``--``, values as written or typed);
    the sleep-mode backup is counted when the weights' size is known, the LoRA cache when the
    model's is (``lora_cache``, see ``capacity.lora``)."""
    swap = _gib(flags.get("swap-space")) * gpus if version is not None and version < V1_ENGINE_SINCE else 0.0
    sleeping = flags.get("enable-sleep-mode") not in (None, False, "false", "False")
    return HostMemoryNeeds(kv_offload=_gib(flags.get("kv-offloading-size")),
                           weight_offload=_gib(flags.get("cpu-offload-gb")) * gpus, swap=swap,
                           sleep_backup=(weights_per_pod or 0.0) if sleeping else 0.0, lora_cache=lora_cache)
