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
from vllm_infra.checker.reading.templates import PodTemplate
from vllm_infra.checker.reading.units import ServingUnit, scale_range, serving_units
from vllm_infra.checker.simulation.cluster import accelerator_count
from vllm_infra.checker.simulation.pods import PodShape, pod_shape
from vllm_infra.vocabulary.kubernetes import (
    KUEUE_QUEUE_LABEL,
    LWS_EXCLUSIVE_TOPOLOGY,
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
    role: str | None = None
    """The role of a DisaggregatedSet this workload is (None: the object is the workload)."""

    @property
    def key(self) -> str:
        """``Kind/namespace/name``, and ``/role`` for a DisaggregatedSet's role."""
        return f"{self.kind}/{self.namespace}/{self.name}" + (f"/{self.role}" if self.role else "")

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
    """The budget guarding each pod template (by identity), the first PDB that selects it."""
    found: dict[int, Budget] = {}
    for pdb in bundle.of_kind("PodDisruptionBudget"):
        budget = _budget(pdb)
        selector = (pdb.get("spec") or {}).get("selector") if isinstance(pdb.get("spec"), Mapping) else None
        if budget is None or not isinstance(selector, Mapping):
            continue
        for _obj, template in bundle.templates_selected(namespace_of(pdb), selector):
            found.setdefault(id(template), budget)
    return found


def workloads(bundle: Bundle) -> list[Workload]:
    """Every serving unit of the bundle: Deployments, StatefulSets, LeaderWorkerSets and the roles
    of DisaggregatedSets; one whose fields do not read (a quantity, count or selector of the wrong
    type) is left out, as the schema rules report it."""
    budgets = _budgets(bundle)
    found = []
    for unit in serving_units(bundle):
        if not unit.templates:
            continue
        try:
            found.append(_workload(bundle, unit, budgets))
        except (ValueError, TypeError, ArithmeticError, AttributeError, KeyError, IndexError):
            continue
    return found


def _cluster_queue(bundle: Bundle, namespace: str, labels: Any) -> str | None:
    """The ClusterQueue behind the Kueue LocalQueue a workload's labels name; None without a queue
    label, or when the LocalQueue is not among the manifests."""
    queue = labels.get(KUEUE_QUEUE_LABEL) if isinstance(labels, Mapping) else None
    local = bundle.find("LocalQueue", str(queue), namespace) if isinstance(queue, str) else None
    cluster_queue = dig(local, "spec", "clusterQueue") if local else None
    return cluster_queue if isinstance(cluster_queue, str) else None


def _replica_pods(bundle: Bundle, templates: tuple[PodTemplate, ...], namespace: str,
                  queue: str | None) -> tuple[PodShape, ...]:
    """One replica's pods: the pod, or a group's leader and its workers."""
    shapes = []
    for template in templates:
        shape = pod_shape(template, namespace)
        claimed = claimed_gpus(template, namespace, bundle) or {}  # a GPU claim counts as the GPUs it hands out
        shapes.append(replace(shape, cluster_queue=queue,
                              requests={**shape.requests, **{key: shape.requests.get(key, 0) + count
                                                             for key, count in claimed.items()}}))
    return (shapes[0], *[shapes[-1]] * (templates[0].size - 1))


def _workload(bundle: Bundle, unit: ServingUnit, budgets: Mapping[int, Budget]) -> Workload:
    """A workload, or a DisaggregatedSet role: the role's LeaderWorkerSet spec and metadata (its
    labels name the Kueue queue; they go to the LeaderWorkerSet the controller creates) in place of
    the object's. Each role rolls out within its own surge; the controller's lockstep across roles
    is not modelled."""
    obj, namespace = unit.obj, namespace_of(unit.obj)
    if unit.role is None:
        meta, rolled = dig(obj, "metadata", default={}) or {}, obj
    else:
        meta = dig(obj, *unit.path[:-1], "metadata", default={}) or {}
        rolled = {"kind": "LeaderWorkerSet", "spec": dig(obj, *unit.path, default={}) or {}}
    low, high = scale_range(unit, bundle)
    pods = _replica_pods(bundle, unit.templates, namespace, _cluster_queue(bundle, namespace, meta.get("labels")))
    strategy, surge, unavailable = _rollout(rolled, max(1, low))
    exclusive = (meta.get("annotations") or {}).get(LWS_EXCLUSIVE_TOPOLOGY)
    return Workload(str(obj.get("kind")), name_of(obj), namespace, pods, low, high, strategy, surge,
                    unavailable, str(exclusive) if exclusive else None, budgets.get(id(unit.templates[0])),
                    start_seconds(obj, MIN_STARTUP_SECONDS), role=unit.role)
