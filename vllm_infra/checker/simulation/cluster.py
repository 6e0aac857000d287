"""The cluster a simulation runs on: node pools expanded into nodes with labels, taints and
allocatable resources. Quantities are integers in Kubernetes' base units (CPU in millicores,
bytes for memory and storage), the way the scheduler compares them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from vllm_infra.catalog.gpus import GPU_RESOURCE_NAMES
from vllm_infra.vocabulary.kubernetes import HOSTNAME_TOPOLOGY, ZONE_TOPOLOGY
from vllm_infra.vocabulary.units import parse_quantity

PODS_RESOURCE = "pods"
"""Pods per node: every pod requests one of the node's ``maxPods``."""
CPU_RESOURCE = "cpu"
CORE_RESOURCES = frozenset({CPU_RESOURCE, "memory", "ephemeral-storage", PODS_RESOURCE})
HUGEPAGES_PREFIX = "hugepages-"
"""What every node has; anything else a node offers is an accelerator or device."""


def accelerator_count(amounts: Mapping[str, int]) -> int:
    """Accelerators (GPUs and other extended resources, hugepages aside) among requests or
    allocatable amounts."""
    return sum(amount for key, amount in amounts.items()
               if key not in CORE_RESOURCES and not key.startswith(HUGEPAGES_PREFIX))


def gpu_count_of(amounts: Mapping[str, int]) -> int:
    """GPUs among requests or allocatable amounts (what a Kueue GPU quota counts): not the RDMA
    devices, hugepages or other extended resources beside them."""
    return sum(amount for key, amount in amounts.items() if key in GPU_RESOURCE_NAMES)


def resource_amount(name: str, quantity: str | int | float) -> int:
    """A quantity as the scheduler counts it: CPU in millicores (rounded up), the rest in units."""
    value = parse_quantity(quantity)
    return math.ceil(value * 1000) if name == CPU_RESOURCE else math.ceil(value)


def resource_amounts(quantities: Mapping[str, str | int | float]) -> dict[str, int]:
    """Every quantity of a resource list in scheduler units (raises ValueError on a bad one)."""
    return {str(name): resource_amount(str(name), value) for name, value in quantities.items()}


@dataclass(frozen=True)
class Taint:
    """A node taint."""

    key: str
    value: str
    effect: str

    def __str__(self) -> str:
        return f"{{{self.key}: {self.value}}}"


@dataclass(frozen=True, eq=False)
class Node:
    """One node. Identity is the object: names are unique within a cluster."""

    name: str
    pool: str
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    allocatable: Mapping[str, int]
    added: bool = False
    """Created by the node autoscaler during the simulation (not in the inventory at rest)."""

    @property
    def zone(self) -> str:
        """The node's zone label ('' when it has none)."""
        return self.labels.get(ZONE_TOPOLOGY, "")

    @cached_property
    def accelerators(self) -> tuple[str, ...]:
        """Allocatable extended resources (GPUs and other devices)."""
        return tuple(key for key in self.allocatable if key not in CORE_RESOURCES)

    @cached_property
    def site(self) -> tuple[str, str]:
        """(pool, zone): the nodes whose labels differ only by hostname."""
        return self.pool, self.zone


@dataclass(frozen=True)
class NodePool:
    """Identical nodes: a managed node group, a Karpenter NodePool or a cluster-autoscaler group."""

    name: str
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    allocatable: Mapping[str, int]
    """Per node, in scheduler units (``pods`` included)."""
    zones: tuple[str, ...]
    """Nodes are spread round-robin over these zones ('' for no zone label)."""
    nodes: int
    """Nodes at rest."""
    max_nodes: int
    """What the node autoscaler may grow the pool to (``nodes`` without one)."""
    reserved: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Per node, what other workloads already hold (subtracted from allocatable)."""
    gpu_type: str | None = None
    """The catalog GPU type of the pool (for reports and pictures)."""

    def node(self, index: int, *, zone_offset: int = 0, added: bool = False) -> Node:
        """The pool's ``index``-th node: hostname ``<pool>-<index>``, zones round-robin (a node
        autoscaler may pick the zone ``zone_offset`` places further on)."""
        name = f"{self.name}-{index}"
        labels = {**self.labels, HOSTNAME_TOPOLOGY: name}
        zone = self.zones[(index + zone_offset) % len(self.zones)] if self.zones else ""
        if zone:
            labels[ZONE_TOPOLOGY] = zone
        free = {key: amount - self.reserved.get(key, 0) for key, amount in self.allocatable.items()}
        return Node(name, self.name, MappingProxyType(labels), self.taints, MappingProxyType(free), added)


@dataclass(frozen=True)
class Cluster:
    """An inventory: the node pools of one environment's cluster, and the GPU quota of its Kueue
    ClusterQueues."""

    pools: tuple[NodePool, ...]
    queues: Mapping[str, Mapping[str, int]] = field(default_factory=lambda: MappingProxyType({}))
    """ClusterQueue -> GPU type -> GPUs it admits."""

    def nodes_at_rest(self) -> list[Node]:
        """Every pool's nodes at rest, pool by pool."""
        return [pool.node(index) for pool in self.pools for index in range(pool.nodes)]

    def pool(self, name: str) -> NodePool:
        """The pool called ``name``."""
        return next(pool for pool in self.pools if pool.name == name)
