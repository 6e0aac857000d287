"""The workloads a simulation places, read from manifests: one replica's pods, the replica range
autoscalers allow, the rollout settings and the PodDisruptionBudget that guards them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from vllm_infra.checker.reading.accelerators import claimed_gpus
from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.reading.objects import dig, name_of, namespace_of
from vllm_infra.checker.reading.probes import start_seconds
from vllm_infra.checker.reading.scaling import max_replicas
from vllm_infra.checker.reading.templates import group_size
from vllm_infra.checker.simulation.cluster import accelerator_count
from vllm_infra.checker.simulation.pods import PodShape, pod_shape
from vllm_infra.vocabulary.kubernetes import (
    KUEUE_QUEUE_LABEL,
    LWS_EXCLUSIVE_TOPOLOGY,
    SERVING_KINDS,
    scaled_int_or_percent,
)
from vllm_infra.vocabulary.limits import MIN_STARTUP_SECONDS, disruptions_allowed


@dataclass(frozen=True)
class Budget:
    """A PodDisruptionBudget as it applies to one workload."""

    name: str
    min_available: int | str | None
    max_unavailable: int | str | None

    def allowed(self, healthy: int, expected: int) -> int:
        """Evictions allowed now (``disruptionsAllowed``): healthy pods above the desired count,
        which is what the budget allows at full health subtracted from the expected pods."""
        at_full_health = disruptions_allowed(min_available=self.min_available, max_unavailable=self.max_unavailable,
                                             replicas=expected)
        return healthy - (expected - at_full_health)


@dataclass(frozen=True)
class Workload:
    """A scalable set of replicas (a replica is one pod, or one LeaderWorkerSet group)."""

    kind: str
    name: str
    namespace: str
    pods: tuple[PodShape, ...]
    """One replica's pods (leader first for a group)."""
    min_replicas: int
    max_replicas: int
    strategy: str
    """RollingUpdate, Recreate or OnDelete."""
    max_surge: int
    """Replicas a rollout may add (resolved at the minimum scale)."""
    max_unavailable: int
    exclusive_topology: str | None
    budget: Budget | None
    startup_seconds: int
    """How long a replacement takes to start serving (the rules' ``start_seconds``)."""

    @property
    def key(self) -> str:
        """``Kind/namespace/name``."""
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def accelerators(self) -> int:
        """Accelerators (GPUs and other extended resources) one replica requests."""
        return sum(accelerator_count(shape.requests) for shape in self.pods)


def _rollout(obj: Mapping[str, Any], replicas: int) -> tuple[str, int, int]:
    kind = obj.get("kind")
    if kind == "LeaderWorkerSet":
        config = dig(obj, "spec", "rolloutStrategy", "rollingUpdateConfiguration", default={}) or {}
        surge, unavailable = config.get("maxSurge", 0), config.get("maxUnavailable", 1)
        strategy = "RollingUpdate"
    elif kind == "StatefulSet":
        update = dig(obj, "spec", "updateStrategy", default={}) or {}
        strategy = str(update.get("type", "RollingUpdate"))
        surge, unavailable = 0, (update.get("rollingUpdate") or {}).get("maxUnavailable", 1)
    else:
        update = dig(obj, "spec", "strategy", default={}) or {}
        strategy = str(update.get("type", "RollingUpdate"))
        rolling = update.get("rollingUpdate") or {}
        surge, unavailable = rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%")
    return (strategy, scaled_int_or_percent(surge, replicas, round_up=True),
            scaled_int_or_percent(unavailable, replicas, round_up=False))


def _budget(pdb: Mapping[str, Any]) -> Budget | None:
    """The budget of a PDB whose numbers read (an int or ``N%``); None otherwise."""
    spec = pdb.get("spec")
    if not isinstance(spec, Mapping):
        return None
    budget = Budget(name_of(pdb), spec.get("minAvailable"), spec.get("maxUnavailable"))
    try:
        budget.allowed(1, 1)
    except (ValueError, TypeError, ArithmeticError):
        return None  # the schema rules report the value
    return budget


def _budgets(bundle: Bundle) -> dict[int, Budget]:
    found: dict[int, Budget] = {}
    for pdb in bundle.of_kind("PodDisruptionBudget"):
        budget = _budget(pdb)
        selector = (pdb.get("spec") or {}).get("selector") if isinstance(pdb.get("spec"), Mapping) else None
        if budget is None or not isinstance(selector, Mapping):
            continue
        for obj, _template in bundle.templates_selected(namespace_of(pdb), selector):
            found.setdefault(id(obj), budget)
    return found


def workloads(bundle: Bundle) -> list[Workload]:
    """Every Deployment, StatefulSet and LeaderWorkerSet of the bundle; one whose fields do not read
    (a quantity, count or selector of the wrong type) is left out, as the schema rules report it."""
    budgets = _budgets(bundle)
    found = []
    for obj in bundle.objects:
        if not isinstance(obj.get("kind"), str) or obj.get("kind") not in SERVING_KINDS or \
                not bundle.templates_of(obj):
            continue
        try:
            found.append(_workload(bundle, obj, budgets))
        except (ValueError, TypeError, ArithmeticError, AttributeError, KeyError, IndexError):
            continue
    return found


def cluster_queue_of(bundle: Bundle, obj: Mapping[str, Any]) -> str | None:
    """The ClusterQueue behind the workload's Kueue LocalQueue (None without a queue label, or when the
    LocalQueue is not among the manifests)."""
    queue = dig(obj, "metadata", "labels", KUEUE_QUEUE_LABEL)
    local = bundle.find("LocalQueue", str(queue), namespace_of(obj)) if isinstance(queue, str) else None
    cluster_queue = dig(local, "spec", "clusterQueue") if local else None
    return cluster_queue if isinstance(cluster_queue, str) else None


def _workload(bundle: Bundle, obj: Mapping[str, Any], budgets: Mapping[int, Budget]) -> Workload:
    namespace = namespace_of(obj)
    queue = cluster_queue_of(bundle, obj)
    shapes = []
    for template in bundle.templates_of(obj):
        shape = pod_shape(template, namespace)
        claimed = claimed_gpus(template, namespace, bundle) or {}  # a GPU claim counts as the GPUs it hands out
        shapes.append(replace(shape, cluster_queue=queue,
                              requests={**shape.requests, **{key: shape.requests.get(key, 0) + count
                                                             for key, count in claimed.items()}}))
    pods = (shapes[0], *[shapes[-1]] * (group_size(obj) - 1)) if obj.get("kind") == "LeaderWorkerSet" \
        else (shapes[0],)
    scalers = bundle.autoscalers_of(obj)
    low = bundle.minimum_scale(obj)
    high = max([max_replicas(scaler) for scaler in scalers] or [low])
    strategy, surge, unavailable = _rollout(obj, max(1, low))
    exclusive = dig(obj, "metadata", "annotations", LWS_EXCLUSIVE_TOPOLOGY)
    return Workload(str(obj.get("kind")), name_of(obj), namespace, pods, low, max(low, high), strategy, surge,
                    unavailable, str(exclusive) if exclusive else None, budgets.get(id(obj)),
                    start_seconds(obj, MIN_STARTUP_SECONDS))
