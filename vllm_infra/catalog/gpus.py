"""GPU catalog: memory, device-plugin resource, node labels per platform and default taint.

Memory is what the driver reports as total device memory (``nvidia-smi`` / ``rocm-smi``), because
vLLM multiplies that number by ``gpu_memory_utilization``. Prices are indicative on-demand list
prices in USD per GPU-hour; ``vllm-infra plan --prices`` overrides them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

NVIDIA_GPU_RESOURCE = "nvidia.com/gpu"
AMD_GPU_RESOURCE = "amd.com/gpu"
DRA_GPU_DEVICE_CLASSES: MappingProxyType[str, str] = MappingProxyType({"gpu.nvidia.com": NVIDIA_GPU_RESOURCE})
"""DeviceClasses of GPU DRA drivers -> the device-plugin resource whose GPUs they hand out instead
(NVIDIA's dra-driver-gpu creates ``gpu.nvidia.com``; a node serves its GPUs through one or the other)."""
"""The device plugins' extended resources."""

class GpuType(StrEnum):
    """Accelerators the catalog knows, named as users say them."""

    T4 = "T4"
    A10G = "A10G"
    L4 = "L4"
    L40S = "L40S"
    A100_40GB = "A100-40GB"
    A100_80GB = "A100-80GB"
    H100_80GB = "H100-80GB"
    H200 = "H200"
    B200 = "B200"
    MI300X = "MI300X"


class NodeLabelPlatform(StrEnum):
    """Which node label identifies the GPU model on the target cluster."""

    GPU_FEATURE_DISCOVERY = "gpu-feature-discovery"
    """NVIDIA GPU feature discovery (``nvidia.com/gpu.product``) or the AMD node labeller."""
    GKE = "gke"
    """GKE's ``cloud.google.com/gke-accelerator``."""
    KARPENTER = "karpenter"
    """EKS with Karpenter: ``karpenter.k8s.aws/instance-gpu-name``."""
    EKS_AUTO = "eks-auto"
    """EKS Auto Mode, whose managed Karpenter labels nodes under ``eks.amazonaws.com/`` instead
    (``eks.amazonaws.com/instance-gpu-name``, same values)."""


@dataclass(frozen=True)
class NodeLabelRequirement:
    """One ``matchExpressions`` entry that selects nodes with this GPU model."""

    key: str
    operator: Literal["In", "Gt"]
    values: tuple[str, ...]


@dataclass(frozen=True)
class GpuModel:
    """Facts about one accelerator model."""

    type: GpuType
    vendor: Literal["nvidia", "amd"]
    memory_mib: int
    """nvidia-smi's FB memory Total (the card's size as the driver reports it)."""
    supports_bf16: bool
    supports_fp8: bool
    """FP8 tensor cores (compute capability 8.9+, or MI300): fp8 weights with fp8 activations and
    an fp8 KV cache."""
    gpus_per_node: int
    hourly_price_usd: float
    node_labels: MappingProxyType[NodeLabelPlatform, tuple[NodeLabelRequirement, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    fp8_weight_only: bool = False
    """No FP8 hardware, but vLLM's FP8 Marlin kernel runs dense fp8 checkpoints weight-only
    (W8A16) on it (Ampere, compute capability 8.0/8.6; not fused MoE layers)."""
    usable_mib: int | None = None
    """``torch.cuda.mem_get_info()`` total where measured: nvidia-smi's Total minus what the driver
    reserves, the figure vLLM multiplies by ``gpu_memory_utilization`` (H200: a device run,
    143771 - 616 MiB; H100, A100-40GB, A10G, L40S: the totals vLLM logged at start-up)."""

    @property
    def usable_bytes(self) -> int:
        """Memory vLLM budgets from: the measured figure, else Total minus RESERVED_MIB_FALLBACK."""
        return (self.usable_mib or self.memory_mib - RESERVED_MIB_FALLBACK) * 2**20

    def runs_fp8_weights(self, *, moe: bool) -> bool:
        """Whether vLLM can serve fp8-quantized weights on this GPU."""
        return self.supports_fp8 or (self.fp8_weight_only and not moe)

    @property
    def resource_name(self) -> str:
        """Extended resource advertised by the vendor's device plugin."""
        return NVIDIA_GPU_RESOURCE if self.vendor == "nvidia" else AMD_GPU_RESOURCE

    @property
    def taint_key(self) -> str:
        """Taint key that GPU node pools conventionally carry (tolerated with ``Exists``)."""
        return self.resource_name

    @property
    def memory_gib(self) -> float:
        """Device memory in GiB."""
        return self.memory_mib / 1024

    def platforms(self) -> list[NodeLabelPlatform]:
        """Platforms on which this GPU can be targeted by label."""
        return sorted(self.node_labels)


RESERVED_MIB_FALLBACK = 640
"""Driver-reserved memory assumed where no usable figure was measured: the largest reservation
seen (Total - usable: H200 616, A100-40GB 635, H100 479, L40S 468, RTX-4090 449, A10G 428,
RTX-3090 430 MiB), so the estimate errs toward less memory."""

_KARPENTER_PREFIX, _EKS_AUTO_PREFIX = "karpenter.k8s.aws/", "eks.amazonaws.com/"
GPU_MEMORY_LABELS = frozenset({f"{_KARPENTER_PREFIX}instance-gpu-memory", f"{_EKS_AUTO_PREFIX}instance-gpu-memory"})
"""Karpenter's and EKS Auto Mode's GPU memory labels (MiB), which tell the two A100 sizes apart."""

_GFD = "nvidia.com/gpu.product"
_GKE = "cloud.google.com/gke-accelerator"


def _labels(
    gfd: tuple[str, ...] = (),
    gke: tuple[str, ...] = (),
    aws: tuple[str, str | None] | None = None,
    gfd_key: str = _GFD,
) -> MappingProxyType[NodeLabelPlatform, tuple[NodeLabelRequirement, ...]]:
    """The requirements per platform; ``aws`` is (EC2 GPU name, GPU memory in MiB where one name
    covers two sizes), labelled alike by Karpenter and EKS Auto Mode under their own prefixes."""
    labels: dict[NodeLabelPlatform, tuple[NodeLabelRequirement, ...]] = {}
    if gfd:
        labels[NodeLabelPlatform.GPU_FEATURE_DISCOVERY] = (NodeLabelRequirement(gfd_key, "In", gfd),)
    if gke:
        labels[NodeLabelPlatform.GKE] = (NodeLabelRequirement(_GKE, "In", gke),)
    if aws:
        name, memory = aws
        for platform, prefix in ((NodeLabelPlatform.KARPENTER, _KARPENTER_PREFIX),
                                 (NodeLabelPlatform.EKS_AUTO, _EKS_AUTO_PREFIX)):
            labels[platform] = (NodeLabelRequirement(f"{prefix}instance-gpu-name", "In", (name,)),
                                *((NodeLabelRequirement(f"{prefix}instance-gpu-memory", "In", (memory,)),)
                                  if memory else ()))
    return MappingProxyType(labels)


GPU_CATALOG: MappingProxyType[GpuType, GpuModel] = MappingProxyType({
    gpu.type: gpu
    for gpu in (
        GpuModel(GpuType.T4, "nvidia", 15360, supports_bf16=False, supports_fp8=False, gpus_per_node=4,
                 hourly_price_usd=0.53,
                 node_labels=_labels(("Tesla-T4",), ("nvidia-tesla-t4",), ("t4", None))),
        GpuModel(GpuType.A10G, "nvidia", 23028, supports_bf16=True, supports_fp8=False, gpus_per_node=8,
                 hourly_price_usd=1.01, fp8_weight_only=True, usable_mib=22600,
                 node_labels=_labels(("NVIDIA-A10G",), (), ("a10g", None))),
        GpuModel(GpuType.L4, "nvidia", 23034, supports_bf16=True, supports_fp8=True, gpus_per_node=8,
                 hourly_price_usd=0.80,
                 node_labels=_labels(("NVIDIA-L4",), ("nvidia-l4",), ("l4", None))),
        GpuModel(GpuType.L40S, "nvidia", 46068, supports_bf16=True, supports_fp8=True, gpus_per_node=8,
                 hourly_price_usd=1.86, usable_mib=45600,
                 node_labels=_labels(("NVIDIA-L40S",), (), ("l40s", None))),
        GpuModel(GpuType.A100_40GB, "nvidia", 40960, supports_bf16=True, supports_fp8=False,
                 gpus_per_node=8, hourly_price_usd=2.75, fp8_weight_only=True, usable_mib=40325,
                 node_labels=_labels(("NVIDIA-A100-SXM4-40GB", "NVIDIA-A100-PCIE-40GB"), ("nvidia-tesla-a100",),
                                     ("a100", "40960"))),
        GpuModel(GpuType.A100_80GB, "nvidia", 81920, supports_bf16=True, supports_fp8=False,
                 gpus_per_node=8, hourly_price_usd=3.43, fp8_weight_only=True,
                 node_labels=_labels(("NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-80GB-PCIe"), ("nvidia-a100-80gb",),
                                     ("a100", "81920"))),
        GpuModel(GpuType.H100_80GB, "nvidia", 81559, supports_bf16=True, supports_fp8=True,
                 gpus_per_node=8, hourly_price_usd=3.93, usable_mib=81080,
                 node_labels=_labels(("NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-PCIe"),
                                     ("nvidia-h100-80gb", "nvidia-h100-mega-80gb"), ("h100", None))),
        GpuModel(GpuType.H200, "nvidia", 143771, supports_bf16=True, supports_fp8=True, gpus_per_node=8,
                 hourly_price_usd=4.98, usable_mib=143155,
                 node_labels=_labels(("NVIDIA-H200",), ("nvidia-h200-141gb",), ("h200", None))),
        GpuModel(GpuType.B200, "nvidia", 183359, supports_bf16=True, supports_fp8=True, gpus_per_node=8,
                 hourly_price_usd=7.50,
                 node_labels=_labels(("NVIDIA-B200",), ("nvidia-b200",), ("b200", None))),
        GpuModel(GpuType.MI300X, "amd", 196608, supports_bf16=True, supports_fp8=True, gpus_per_node=8,
                 hourly_price_usd=3.50,
                 node_labels=_labels(("AMD_Instinct_MI300X_OAM",), gfd_key="amd.com/gpu.product-name")),
    )
})

GPU_RESOURCE_NAMES: frozenset[str] = frozenset(gpu.resource_name for gpu in GPU_CATALOG.values())

OTHER_ACCELERATOR_PREFIXES = ("nvidia.com/mig-", "google.com/tpu", "habana.ai/", "aws.amazon.com/neuron",
                              "gpu.intel.com/", "amd.com/")
"""Device-plugin resources of accelerators outside the GPU catalog (MIG slices, Cloud TPU, Intel
Gaudi, AWS Inferentia/Trainium, Intel GPUs, other AMD devices): a pod requesting one is not a
CPU pod, but its GPU count is not ours to check."""

NVIDIA_DEVICES_ENV = "NVIDIA_VISIBLE_DEVICES"
"""What the NVIDIA container runtime reads to expose GPUs to a container."""

DEVICE_INDEX_ENV = frozenset({"CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"})
"""Variables that pick among the GPUs a container can see, by index from 0: naming every
allocated GPU (``0`` of one) changes nothing."""

DEVICE_SELECTION_ENV = DEVICE_INDEX_ENV | {NVIDIA_DEVICES_ENV}
"""Environment variables that pick GPUs by hand, bypassing the device plugin's allocation
(NVIDIA container runtime and CUDA; ROCm runtime and HIP)."""

NVIDIA_NO_DEVICES = "void"
"""``NVIDIA_VISIBLE_DEVICES=void`` hides every GPU from a container that was allocated none."""


def hidden_gpus_env(vendor: str) -> dict[str, str]:
    """What keeps a container that requests no GPU from seeing the node's GPUs: the NVIDIA runtime
    exposes every GPU to a container whose image sets ``NVIDIA_VISIBLE_DEVICES=all`` (CUDA images do)."""
    return {NVIDIA_DEVICES_ENV: NVIDIA_NO_DEVICES} if vendor == "nvidia" else {}


def _label_index() -> dict[tuple[str, str], frozenset[GpuType]]:
    index: dict[tuple[str, str], set[GpuType]] = {}
    for gpu in GPU_CATALOG.values():
        for requirements in gpu.node_labels.values():
            for requirement in requirements:
                if requirement.operator == "In" and requirement.key not in GPU_MEMORY_LABELS:
                    for value in requirement.values:
                        index.setdefault((requirement.key, value), set()).add(gpu.type)
    return {key: frozenset(types) for key, types in index.items()}


GPU_LABEL_INDEX: MappingProxyType[tuple[str, str], frozenset[GpuType]] = MappingProxyType(_label_index())
"""(node label key, value) -> the GPU types a node with that label may have: the inverse of
``node_labels``, for reading which GPU a hand-written pod asks for."""
GPU_LABEL_KEYS: frozenset[str] = frozenset(key for key, _value in GPU_LABEL_INDEX)

INSTANCE_FAMILY_LABELS = frozenset({f"{_KARPENTER_PREFIX}instance-family", f"{_EKS_AUTO_PREFIX}instance-family"})
INSTANCE_TYPE_LABELS = frozenset({"node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"})
_AWS_FAMILIES: MappingProxyType[str, GpuType] = MappingProxyType({
    "g4dn": GpuType.T4, "g5": GpuType.A10G, "g6": GpuType.L4, "gr6": GpuType.L4, "g6e": GpuType.L40S,
    "p4d": GpuType.A100_40GB, "p4de": GpuType.A100_80GB, "p5": GpuType.H100_80GB, "p5e": GpuType.H200,
    "p5en": GpuType.H200, "p6-b200": GpuType.B200})
"""EC2 instance families and the one GPU model each carries (aws.amazon.com/ec2/instance-types)."""
_CLOUD_INSTANCE_TYPES: tuple[tuple[re.Pattern[str], GpuType], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), gpu) for pattern, gpu in (
        (r"^a2-highgpu-", GpuType.A100_40GB), (r"^a2-megagpu-", GpuType.A100_40GB),
        (r"^a2-ultragpu-", GpuType.A100_80GB), (r"^a3-(highgpu|megagpu|edgegpu)-", GpuType.H100_80GB),
        (r"^a3-ultragpu-", GpuType.H200), (r"^a4-highgpu-", GpuType.B200), (r"^g2-standard-", GpuType.L4),
        (r"^Standard_NC\d+as_T4_v3$", GpuType.T4), (r"^Standard_NC\d+ads_A100_v4$", GpuType.A100_80GB),
        (r"^Standard_ND96a?sr?_v4$", GpuType.A100_40GB), (r"^Standard_ND96amsr_A100_v4$", GpuType.A100_80GB),
        (r"^Standard_N[CD]\d+isr?_H100_v5$", GpuType.H100_80GB), (r"^Standard_NC\d+ads_H100_v5$", GpuType.H100_80GB),
        (r"^Standard_ND96isr_H200_v5$", GpuType.H200), (r"^Standard_ND96isr_MI300X_v5$", GpuType.MI300X)))
"""GCE machine types and Azure VM sizes by the GPU model they carry."""

NODE_GPU_LABEL_KEYS: frozenset[str] = GPU_LABEL_KEYS | INSTANCE_FAMILY_LABELS | INSTANCE_TYPE_LABELS
"""Node labels that say which GPU model a node has: the GPU's own labels and the cloud's instance
family and type."""


def gpus_of_node_label(key: str, value: str) -> frozenset[GpuType]:
    """The GPU types a node labelled ``key=value`` may have (empty: none the catalog knows): GPU
    feature discovery, GKE and Karpenter GPU names, and cloud instance families and types
    (``karpenter.k8s.aws/instance-family: g6e`` is an L40S node)."""
    if key in INSTANCE_FAMILY_LABELS:
        return frozenset({_AWS_FAMILIES[value]}) if value in _AWS_FAMILIES else frozenset()
    if key in INSTANCE_TYPE_LABELS:
        family = value.split(".", 1)[0]
        if "." in value and family in _AWS_FAMILIES:
            return frozenset({_AWS_FAMILIES[family]})
        return frozenset(gpu for pattern, gpu in _CLOUD_INSTANCE_TYPES if pattern.search(value))
    return GPU_LABEL_INDEX.get((key, value), frozenset())
