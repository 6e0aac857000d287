"""Which GPUs a replica gets and how the model is split across them."""

from __future__ import annotations

from pydantic import Field, model_validator

from vllm_infra.catalog.gpus import DRA_GPU_DEVICE_CLASSES, GPU_CATALOG, GpuModel, GpuType, NodeLabelPlatform
from vllm_infra.spec.base import Int32, Problem, SpecModel, raise_problems


class AcceleratorSpec(SpecModel):
    """The GPU model and how many each pod gets."""

    type: GpuType
    """GPU model from the catalog (T4, A10G, L4, L40S, A100-40GB, A100-80GB, H100-80GB, H200, B200,
    MI300X). Required."""

    count: Int32 | None = Field(default=None, gt=0)
    """GPUs per pod. Default: ``parallelism.tensor x parallelism.pipeline / parallelism.nodes``;
    if set it must equal that product."""

    platform: NodeLabelPlatform = NodeLabelPlatform.GPU_FEATURE_DISCOVERY
    """Which node label selects the GPU model: ``gpu-feature-discovery``, ``gke`` or ``karpenter``.
    Default: ``gpu-feature-discovery``."""

    gpus_per_node: Int32 | None = Field(default=None, gt=0)
    """GPUs on one node of the pool. Default: the catalog's value for the GPU type (8 for most)."""

    tolerate_gpu_taint: bool = True
    """Tolerate the conventional GPU node taint (``nvidia.com/gpu`` or ``amd.com/gpu``, any value,
    ``NoSchedule``). Default: true."""

    claim: bool = False
    """Request the GPUs through a DRA ResourceClaimTemplate (``resource.k8s.io/v1``, Kubernetes 1.34+)
    of the GPU driver's DeviceClass (NVIDIA's ``gpu.nvidia.com``) instead of ``nvidia.com/gpu``
    counts. Default: false."""

    @property
    def gpu(self) -> GpuModel:
        """Catalog facts for ``type``."""
        return GPU_CATALOG[self.type]

    @property
    def device_class(self) -> str | None:
        """The DRA DeviceClass that hands out this GPU type (None when no catalogued driver does)."""
        return next((name for name, resource in DRA_GPU_DEVICE_CLASSES.items()
                     if resource == self.gpu.resource_name), None)

    @model_validator(mode="after")
    def _claimable(self) -> AcceleratorSpec:
        if self.claim and self.device_class is None:
            raise_problems("AcceleratorSpec", [Problem(("claim",), f"no catalogued DRA driver hands out {self.type} "
                                                       f"GPUs (DeviceClasses: {', '.join(DRA_GPU_DEVICE_CLASSES)})",
                                                       True)])
        return self


class ParallelismSpec(SpecModel):
    """How vLLM shards the model: tensor x pipeline parallel, across one or more nodes."""

    tensor: Int32 = Field(default=1, gt=0)
    """Tensor-parallel size (``--tensor-parallel-size``). Default: 1."""

    pipeline: Int32 = Field(default=1, gt=0)
    """Pipeline-parallel size (``--pipeline-parallel-size``). Default: 1."""

    nodes: Int32 = Field(default=1, gt=0)
    """Pods (one per node) that serve one replica together. More than one renders a
    LeaderWorkerSet (vLLM's own multi-node executor from 0.11.1, Ray before). Default: 1."""

    @property
    def world_size(self) -> int:
        """GPUs one replica uses in total."""
        return self.tensor * self.pipeline
