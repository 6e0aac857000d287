"""Scheduling simulation of a stack: its inventory as simulator nodes, its rendered objects as
workloads, every scenario's verdict per service, in text and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from vllm_infra.checker.simulation.cluster import (
    PODS_RESOURCE,
    Cluster,
    NodePool,
    Taint,
    resource_amounts,
)
from vllm_infra.checker.simulation.outcomes import Scenario, Simulation, Verdict
from vllm_infra.spec.cluster import ClusterSpec, NodePoolSpec

GPU_TAINT_VALUE = "present"


def _pool(spec: NodePoolSpec) -> NodePool:
    model = spec.gpu_model
    labels: dict[str, str] = dict(spec.labels)
    allocatable = resource_amounts({"cpu": spec.cpu, "memory": spec.memory,
                                    "ephemeral-storage": spec.ephemeral_storage, **spec.hugepages, **spec.devices})
    allocatable[PODS_RESOURCE] = spec.max_pods
    reserved = resource_amounts({"cpu": spec.reserved_cpu, "memory": spec.reserved_memory})
    taints = tuple(Taint(t.key, t.value, t.effect.value) for t in spec.taints or ())
    if model is not None:
        for requirement in model.node_labels[spec.platform]:
            labels.setdefault(requirement.key, requirement.values[0])
        allocatable[model.resource_name] = spec.node_gpus
        reserved[model.resource_name] = spec.reserved_gpus
        if spec.taints is None:
            taints = (Taint(model.taint_key, GPU_TAINT_VALUE, "NoSchedule"),)
    return NodePool(spec.name, MappingProxyType(labels), taints, MappingProxyType(allocatable), tuple(spec.zones),
                    spec.nodes, spec.ceiling, MappingProxyType(reserved), spec.gpu.value if spec.gpu else None)


def cluster_of(spec: ClusterSpec) -> Cluster:
    """The simulator's cluster for an inventory: GPU labels from the catalog for the pool's
    platform, the GPU as an allocatable extended resource, the conventional GPU taint; the Kueue
    ClusterQueues' GPU quota per GPU type."""
    queues = {queue.name: MappingProxyType({gpu.value: count for gpu, count in queue.gpus.items()})
              for queue in spec.cluster_queues}
    return Cluster(tuple(_pool(pool) for pool in spec.node_pools), MappingProxyType(queues))


@dataclass(frozen=True)
class StackSimulation:
    """One stack's simulation."""

    stack: str
    simulation: Simulation

    @property
    def blocked(self) -> bool:
        """Whether any scenario is blocked."""
        return self.simulation.worst() == Verdict.BLOCKED


COLUMNS = (Scenario.MINIMUM, Scenario.MAXIMUM, Scenario.ROLLOUT, Scenario.DRAIN, Scenario.ZONE_LOSS)


def verdict_table(result: StackSimulation) -> list[str]:
    """Markdown-style table: one row per workload, one column per scenario, then the pools."""
    rows: dict[str, dict[Scenario, Verdict]] = {}
    for outcome in result.simulation.outcomes:
        if outcome.scenario in COLUMNS:
            rows.setdefault(outcome.subject, {})[outcome.scenario] = outcome.verdict
    header = "| workload | " + " | ".join(c.value for c in COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 1)]
    for subject, verdicts in rows.items():
        lines.append(f"| {subject} | " + " | ".join(verdicts.get(c, Verdict.OK).value for c in COLUMNS) + " |")
    return lines


def explanation_lines(result: StackSimulation) -> list[str]:
    """Every outcome that is not ok (and the scale-out of each pool), with the scheduler's words."""
    lines = []
    for outcome in result.simulation.outcomes:
        if outcome.verdict == Verdict.OK and outcome.scenario != Scenario.SCALE_OUT:
            continue
        line = f"{outcome.verdict.value:<8} {outcome.scenario.value:<9} {outcome.subject}: {outcome.detail}"
        lines.append(line + (f" ({outcome.reason})" if outcome.reason else ""))
    return lines


def as_json(results: Sequence[StackSimulation]) -> dict[str, Any]:
    """Machine-readable verdicts."""
    return {"stacks": [{
        "stack": result.stack, "worst": result.simulation.worst().value,
        "outcomes": [{"scenario": o.scenario.value, "subject": o.subject, "verdict": o.verdict.value,
                      "detail": o.detail, "reason": o.reason} for o in result.simulation.outcomes],
    } for result in results]}
