"""CPU and host memory. GPUs are derived from parallelism; requests always equal limits for
GPUs and memory."""

from __future__ import annotations

from pydantic import model_validator

from vllm_infra.capacity.host import HOST_MEMORY_HEADROOM_BYTES
from vllm_infra.spec.base import Problem, Quantity, SpecModel, raise_problems
from vllm_infra.vocabulary.units import format_bytes, parse_quantity


class ResourcesSpec(SpecModel):
    """Per-pod CPU and memory."""

    cpu: Quantity | None = None
    """CPU request. Default: 4 cores per GPU in the pod."""

    cpu_limit: Quantity | None = None
    """CPU limit. Default: none, so tokenization and the API server are never throttled."""

    memory: Quantity | None = None
    """Host memory for the vLLM processes, excluding ``/dev/shm`` (which is added on top), at least
    8Gi. Request equals limit. Default: the pod's share of the model weights plus 8Gi (16Gi per
    GPU when the model's size is unknown)."""

    @model_validator(mode="after")
    def _check(self) -> ResourcesSpec:
        if self.memory is not None and parse_quantity(self.memory) < HOST_MEMORY_HEADROOM_BYTES:
            raise_problems("ResourcesSpec", [Problem(
                ("memory",), f"the vLLM processes need at least {format_bytes(HOST_MEMORY_HEADROOM_BYTES)} of host "
                "memory (tokenizer, API server, staging weights while loading)", self.memory)])
        return self
