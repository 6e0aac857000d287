"""Typed declaration of vLLM services: pure data and validation, no I/O."""

from vllm_infra.catalog.gpus import GpuType, NodeLabelPlatform
from vllm_infra.spec.accelerator import AcceleratorSpec, ParallelismSpec
from vllm_infra.spec.autoscaling import AutoscalingSpec, ScalingMetric
from vllm_infra.spec.availability import AvailabilitySpec, DisruptionBudgetSpec, RolloutSpec, RolloutStrategy
from vllm_infra.spec.base import SecretKeyRef
from vllm_infra.spec.exposure import MetricsSpec, NetworkPolicySpec, SecuritySpec, ServiceSpec
from vllm_infra.spec.fleet import FleetSpec, NamespaceSpec
from vllm_infra.spec.image import ImageSpec
from vllm_infra.spec.lifecycle import DrainSpec, LifecycleSpec, ProbeTiming
from vllm_infra.spec.model import Dtype, ModelSpec, Quantization
from vllm_infra.spec.patches import JsonPatchOperation, ObjectPatch
from vllm_infra.spec.resources import ResourcesSpec
from vllm_infra.spec.scheduling import NodeRequirement, PreferredNode, SchedulingSpec, Spread, Toleration
from vllm_infra.spec.service import VllmServiceSpec
from vllm_infra.spec.storage import AccessMode, CacheType, ModelCacheSpec, StorageSpec

__all__ = [
    "AcceleratorSpec",
    "AccessMode",
    "AutoscalingSpec",
    "AvailabilitySpec",
    "CacheType",
    "DisruptionBudgetSpec",
    "DrainSpec",
    "Dtype",
    "FleetSpec",
    "GpuType",
    "ImageSpec",
    "JsonPatchOperation",
    "LifecycleSpec",
    "MetricsSpec",
    "ModelCacheSpec",
    "ModelSpec",
    "NamespaceSpec",
    "NetworkPolicySpec",
    "NodeLabelPlatform",
    "NodeRequirement",
    "ObjectPatch",
    "ParallelismSpec",
    "PreferredNode",
    "ProbeTiming",
    "Quantization",
    "ResourcesSpec",
    "RolloutSpec",
    "RolloutStrategy",
    "ScalingMetric",
    "SchedulingSpec",
    "SecretKeyRef",
    "SecuritySpec",
    "ServiceSpec",
    "Spread",
    "StorageSpec",
    "Toleration",
    "VllmServiceSpec",
]
