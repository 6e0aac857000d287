"""The cluster an environment deploys to: node pools with their GPUs, allocatable resources,
labels, taints, zones and autoscaling range, so ``vllm-infra simulate`` (and the rules it feeds)
can play scheduling, rollouts, drains and scale-out on it before merge."""

from __future__ import annotations

from pydantic import Field, model_validator

from vllm_infra.catalog.gpus import GPU_CATALOG, GpuModel, GpuType, NodeLabelPlatform
from vllm_infra.spec.base import (
    DnsLabel,
    Int32,
    LabelValue,
    Problem,
    QualifiedName,
    Quantity,
    SecretName,
    SpecModel,
    raise_problems,
)
from vllm_infra.spec.scheduling import TolerationEffect
from vllm_infra.vocabulary.kubernetes import KUBELET_MAX_PODS
from vllm_infra.vocabulary.limits import MAX_CLUSTER_NODES


class NodeTaint(SpecModel):
    """A node taint."""

    key: QualifiedName
    """Taint key. Required."""

    value: LabelValue = ""
    """Taint value. Default: empty."""

    effect: TolerationEffect = TolerationEffect.NO_SCHEDULE
    """``NoSchedule``, ``PreferNoSchedule`` or ``NoExecute``. Default: ``NoSchedule``."""


class NodePoolSpec(SpecModel):
    """Identical nodes (a managed node group, a Karpenter NodePool, a cluster-autoscaler group)."""

    name: DnsLabel
    """Pool name; nodes are called ``<name>-<index>``. Required."""

    gpu: GpuType | None = None
    """GPU model of every node (the catalog supplies its resource name and node labels). Default:
    none (a CPU pool)."""

    gpus_per_node: Int32 | None = Field(default=None, gt=0)
    """GPUs per node. Default: the catalog's figure for ``gpu`` (8 for most); only with ``gpu``."""

    platform: NodeLabelPlatform = NodeLabelPlatform.GPU_FEATURE_DISCOVERY
    """Which labels identify the GPU model (as services' ``accelerator.platform``). Default:
    ``gpu-feature-discovery``."""

    cpu: Quantity
    """Allocatable CPU per node (``status.allocatable.cpu``). Required."""

    memory: Quantity
    """Allocatable memory per node. Required."""

    ephemeral_storage: Quantity = "100Gi"
    """Allocatable ephemeral storage per node. Default: ``100Gi``."""

    hugepages: dict[QualifiedName, Quantity] = Field(default_factory=dict)
    """Other allocatable resources per node, such as ``hugepages-2Mi: 4Gi``. Default: none."""

    devices: dict[QualifiedName, Int32] = Field(default_factory=dict)
    """Other device-plugin resources each node advertises (an RDMA NIC's ``rdma/ib: 8``), which pods
    that request them need. Default: none."""

    max_pods: Int32 = Field(default=KUBELET_MAX_PODS, gt=0)
    """Pods per node (kubelet ``maxPods``). Default: 110."""

    nodes: Int32 = Field(default=1, ge=0, le=MAX_CLUSTER_NODES)
    """Nodes at rest (0 for a pool the node autoscaler creates from nothing). Default: 1."""

    max_nodes: Int32 | None = Field(default=None, ge=0, le=MAX_CLUSTER_NODES)
    """Nodes the node autoscaler may grow the pool to. Default: ``nodes`` (no autoscaling)."""

    zones: list[LabelValue] = Field(default_factory=list)
    """Zones the pool's nodes are spread over round-robin (``topology.kubernetes.io/zone``).
    Default: none (no zone label)."""

    labels: dict[QualifiedName, LabelValue] = Field(default_factory=dict)
    """Further node labels. Default: none."""

    taints: list[NodeTaint] | None = None
    """Node taints. Default: the GPU taint (``nvidia.com/gpu`` or ``amd.com/gpu``, value
    ``present``, ``NoSchedule``) on GPU pools, none on CPU pools."""

    reserved_cpu: Quantity = "0"
    """CPU per node held by other workloads (DaemonSets, other teams). Default: 0."""

    reserved_memory: Quantity = "0"
    """Memory per node held by other workloads. Default: 0."""

    reserved_gpus: Int32 = Field(default=0, ge=0)
    """GPUs per node held by other workloads. Default: 0."""

    @property
    def gpu_model(self) -> GpuModel | None:
        """Catalog facts for ``gpu``."""
        return GPU_CATALOG[self.gpu] if self.gpu else None

    @property
    def node_gpus(self) -> int:
        """GPUs per node."""
        model = self.gpu_model
        return 0 if model is None else self.gpus_per_node or model.gpus_per_node

    @property
    def ceiling(self) -> int:
        """Nodes the pool may have at most."""
        return self.nodes if self.max_nodes is None else self.max_nodes

    @model_validator(mode="after")
    def _check(self) -> NodePoolSpec:
        problems = []
        if self.max_nodes is not None and self.max_nodes < self.nodes:
            problems.append(Problem(("max_nodes",), f"below nodes ({self.nodes})", self.max_nodes))
        if self.gpus_per_node is not None and self.gpu is None:
            problems.append(Problem(("gpus_per_node",), "only with gpu", self.gpus_per_node))
        if self.reserved_gpus > self.node_gpus:
            problems.append(Problem(("reserved_gpus",), f"more than the {self.node_gpus} GPU(s) of a node",
                                    self.reserved_gpus))
        model = self.gpu_model
        if model is not None and self.platform not in model.node_labels:
            problems.append(Problem(("platform",), f"{self.gpu} has no {self.platform} node label in the catalog",
                                    self.platform.value))
        raise_problems("NodePoolSpec", problems)
        return self


class ClusterQueueSpec(SpecModel):
    """A Kueue ClusterQueue: the GPUs it admits per GPU type (its ResourceFlavors' nominal quota of
    the GPU resource), which its pods may never exceed whatever the nodes hold."""

    name: SecretName
    """ClusterQueue name (an object name). Required."""

    gpus: dict[GpuType, Int32] = Field(min_length=1)
    """Nominal GPU quota per GPU type (borrowing from a cohort is not counted). Required."""


class ClusterSpec(SpecModel):
    """The node inventory of one environment's cluster, and the Kueue ClusterQueues that admit
    pods to it."""

    node_pools: list[NodePoolSpec] = Field(min_length=1)
    """Node pools, in the order a node autoscaler tries them. Required (at least one)."""

    cluster_queues: list[ClusterQueueSpec] = Field(default_factory=list)
    """Kueue ClusterQueues with their GPU quota, which admission through the fleet's ``queue`` is
    simulated on. Default: none (no Kueue)."""

    @model_validator(mode="after")
    def _unique(self) -> ClusterSpec:
        seen: set[str] = set()
        problems = []
        total = sum(pool.ceiling for pool in self.node_pools)
        if total > MAX_CLUSTER_NODES:
            problems.append(Problem(("node_pools",), f"the pools may grow to {total} nodes; Kubernetes supports "
                                    f"{MAX_CLUSTER_NODES} per cluster", total))
        for index, pool in enumerate(self.node_pools):
            if pool.name in seen:
                problems.append(Problem(("node_pools", index, "name"), "duplicate pool name", pool.name))
            seen.add(pool.name)
        queues: set[str] = set()
        for index, queue in enumerate(self.cluster_queues):
            if queue.name in queues:
                problems.append(Problem(("cluster_queues", index, "name"), "duplicate ClusterQueue", queue.name))
            queues.add(queue.name)
        raise_problems("ClusterSpec", problems)
        return self

    def cluster_queue(self, name: str) -> ClusterQueueSpec | None:
        """The ClusterQueue called ``name``."""
        return next((queue for queue in self.cluster_queues if queue.name == name), None)

    def gpus(self, gpu: GpuType) -> int:
        """GPUs of one type the pools can hold at their maximum size, less what others reserve."""
        return sum((pool.node_gpus - pool.reserved_gpus) * pool.ceiling for pool in self.node_pools
                   if pool.gpu == gpu)
