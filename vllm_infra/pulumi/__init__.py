"""Pulumi adapter: components that register the pure renderer's objects as pulumi-kubernetes
resources. This is the only package that imports Pulumi."""

from vllm_infra.pulumi.component import VllmFleet, VllmFleetArgs, VllmService, VllmServiceArgs
from vllm_infra.pulumi.program import fleet_from_pulumi_config, kubernetes_provider

__all__ = [
    "VllmFleet",
    "VllmFleetArgs",
    "VllmService",
    "VllmServiceArgs",
    "fleet_from_pulumi_config",
    "kubernetes_provider",
]
