"""CPU and host memory. GPUs are derived from parallelism; requests always equal limits for
GPUs and memory."""

from __future__ import annotations

from vllm_infra.spec.base import Quantity, SpecModel


class ResourcesSpec(SpecModel):
    """Per-pod CPU and memory."""

    cpu: Quantity | None = None
    """CPU request. Default: 4 cores per GPU in the pod."""

    cpu_limit: Quantity | None = None
    """CPU limit. Default: none, so tokenization and the API server are never throttled."""

    memory: Quantity | None = None
    """Host memory for the vLLM processes, excluding ``/dev/shm`` (which is added on top). Request
    equals limit. Default: the pod's share of the model weights plus 8Gi (16Gi per GPU when the
    model's size is unknown)."""
