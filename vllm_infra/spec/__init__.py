"""Typed declaration of vLLM services: fields and their validation (pydantic, no I/O), and the
resolved view that render and plan read."""

from vllm_infra.catalog.gpus import GpuType, NodeLabelPlatform
from vllm_infra.spec.accelerator import AcceleratorSpec, ParallelismSpec
from vllm_infra.spec.autoscaling import AutoscalingSpec, HpaAutoscalingSpec, KedaAutoscalingSpec, ScalingMetric
from vllm_infra.spec.availability import AvailabilitySpec, DisruptionBudgetSpec, RolloutSpec, RolloutStrategy
from vllm_infra.spec.base import SecretKeyRef
from vllm_infra.spec.cluster import ClusterSpec, NodePoolSpec, NodeTaint
from vllm_infra.spec.delivery import DeliverySpec, DeliveryTool
from vllm_infra.spec.exposure import MetricsSpec, NetworkPolicySpec, SecuritySpec, ServiceSpec
from vllm_infra.spec.fleet import FleetSpec, NamespaceSpec
from vllm_infra.spec.image import ImageSpec
from vllm_infra.spec.lifecycle import DrainSpec, LifecycleSpec, ProbeTiming
from vllm_infra.spec.model import Dtype, ModelSpec, Quantization
from vllm_infra.spec.patches import JsonPatchOperation, ObjectPatch
from vllm_infra.spec.resolved import ResolvedService
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
    "ClusterSpec",
    "DeliverySpec",
    "DeliveryTool",
    "DisruptionBudgetSpec",
    "DrainSpec",
    "Dtype",
    "FleetSpec",
    "GpuType",
    "HpaAutoscalingSpec",
    "ImageSpec",
    "JsonPatchOperation",
    "KedaAutoscalingSpec",
    "LifecycleSpec",
    "MetricsSpec",
    "ModelCacheSpec",
    "ModelSpec",
    "NamespaceSpec",
    "NetworkPolicySpec",
    "NodeLabelPlatform",
    "NodePoolSpec",
    "NodeRequirement",
    "NodeTaint",
    "ObjectPatch",
    "ParallelismSpec",
    "PreferredNode",
    "ProbeTiming",
    "Quantization",
    "ResolvedService",
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
