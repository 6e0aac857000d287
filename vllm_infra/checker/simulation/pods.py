"""What the scheduler reads from a pod template: effective requests (init containers, sidecars
and overhead included), node selection, tolerations, spread constraints and inter-pod terms."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from vllm_infra.checker.reading.objects import as_list, dig
from vllm_infra.checker.reading.templates import PodTemplate
from vllm_infra.checker.simulation.cluster import PODS_RESOURCE, resource_amounts


@dataclass(frozen=True)
class Toleration:
    """A pod toleration (``operator`` Exists or Equal; an empty key with Exists tolerates all)."""

    key: str
    operator: str
    value: str
    effect: str

    def tolerates(self, key: str, value: str, effect: str) -> bool:
        """Whether this toleration matches a taint (kube's ``Toleration.ToleratesTaint``)."""
        if self.effect and self.effect != effect:
            return False
        if self.key and self.key != key:
            return False
        if self.operator == "Exists":
            return True
        return self.operator in ("Equal", "") and self.value == value


@dataclass(frozen=True)
class SpreadConstraint:
    """A ``topologySpreadConstraints`` entry."""

    max_skew: int
    topology_key: str
    hard: bool
    """``whenUnsatisfiable: DoNotSchedule`` (a filter); otherwise only a preference."""
    selector: Mapping[str, Any] | None
    min_domains: int
    honor_node_affinity: bool
    """``nodeAffinityPolicy`` Honor (the default): domains count only nodes the pod may use."""
    honor_taints: bool
    """``nodeTaintsPolicy`` Honor: domains count only nodes whose taints the pod tolerates
    (default Ignore)."""


@dataclass(frozen=True)
class PodTerm:
    """A required inter-pod (anti-)affinity term."""

    selector: Mapping[str, Any] | None
    topology_key: str
    namespaces: frozenset[str]
    """Namespaces whose pods the term considers (the pod's own when the term names none)."""


@dataclass(frozen=True, eq=False)
class PodShape:
    """One pod as the scheduler sees it. Pods of a replica set share one shape object."""

    namespace: str
    labels: Mapping[str, str]
    requests: Mapping[str, int]
    node_selector: Mapping[str, str]
    required_terms: tuple[tuple[Mapping[str, Any], ...], ...] | None
    """``nodeSelectorTerms`` (ORed; each a tuple of ANDed expressions); None when unset."""
    preferred_terms: tuple[tuple[int, tuple[Mapping[str, Any], ...]], ...]
    tolerations: tuple[Toleration, ...]
    spread: tuple[SpreadConstraint, ...]
    affinity: tuple[PodTerm, ...]
    anti_affinity: tuple[PodTerm, ...]
    cluster_queue: str | None = None
    """The Kueue ClusterQueue that admits the pod (through its workload's LocalQueue), if any."""

    @cached_property
    def placement_key(self) -> str:
        """Everything node filters and node preferences read, as one string (which caches its
        hash): pods that share it share every per-node answer (a fleet's services of one GPU type
        usually do)."""
        return repr(_frozen((self.node_selector, self.required_terms, self.preferred_terms, self.tolerations)))

    @cached_property
    def node_dependent(self) -> bool:
        """Whether node selection names single hosts (so per-pool answers cannot be shared)."""
        keys = set(self.node_selector)
        for term in self.required_terms or ():
            keys.update(str(expr.get("key")) for expr in term)
        return "kubernetes.io/hostname" in keys


def _frozen(value: Any) -> Hashable:
    if isinstance(value, Mapping):
        return tuple(sorted((str(key), _frozen(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value if isinstance(value, Hashable) else repr(value)


def _container_requests(container: Mapping[str, Any]) -> dict[str, int]:
    """Requests of one container; a resource with only a limit requests the limit (API defaulting)."""
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits"), resources.get("requests")
    return resource_amounts({**(limits if isinstance(limits, Mapping) else {}),
                             **(requests if isinstance(requests, Mapping) else {})})


def _add(total: dict[str, int], extra: Mapping[str, int]) -> dict[str, int]:
    return {key: total.get(key, 0) + extra.get(key, 0) for key in {*total, *extra}}


def _at_least(total: dict[str, int], floor: Mapping[str, int]) -> dict[str, int]:
    return {key: max(total.get(key, 0), floor.get(key, 0)) for key in {*total, *floor}}


def effective_requests(spec: Mapping[str, Any]) -> dict[str, int]:
    """What the pod occupies on a node (kube's ``PodRequests``): the app containers plus sidecars
    (init containers with ``restartPolicy: Always``), at least each regular init container plus
    the sidecars started before it, plus ``overhead``; one ``pods`` slot."""
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for init in as_list(spec.get("initContainers")):
        if not isinstance(init, Mapping):
            continue
        requests = _container_requests(init)
        if init.get("restartPolicy") == "Always":
            sidecars = _add(sidecars, requests)
            init_peak = _at_least(init_peak, sidecars)
        else:
            init_peak = _at_least(init_peak, _add(requests, sidecars))
    apps: dict[str, int] = {}
    for container in as_list(spec.get("containers")):
        if isinstance(container, Mapping):
            apps = _add(apps, _container_requests(container))
    total = _at_least(_add(apps, sidecars), init_peak)
    overhead = spec.get("overhead")
    if isinstance(overhead, Mapping):
        total = _add(total, resource_amounts(overhead))
    total[PODS_RESOURCE] = 1
    return {key: amount for key, amount in sorted(total.items()) if amount}


def _terms(value: Any) -> tuple[tuple[Mapping[str, Any], ...], ...]:
    return tuple(tuple(expr for expr in as_list((term or {}).get("matchExpressions")) if isinstance(expr, Mapping))
                 for term in as_list(value) if isinstance(term, Mapping | type(None)))


def _pod_terms(value: Any, namespace: str) -> tuple[PodTerm, ...]:
    terms = []
    for term in as_list(value):
        if not isinstance(term, Mapping):
            continue
        namespaces = frozenset(str(name) for name in as_list(term.get("namespaces"))) or frozenset({namespace})
        terms.append(PodTerm(term.get("labelSelector"), str(term.get("topologyKey", "")), namespaces))
    return tuple(terms)


def _spread(value: Any) -> tuple[SpreadConstraint, ...]:
    constraints = []
    for item in as_list(value):
        if not isinstance(item, Mapping):
            continue
        constraints.append(SpreadConstraint(
            int(item.get("maxSkew", 1)), str(item.get("topologyKey", "")),
            item.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule", item.get("labelSelector"),
            int(item.get("minDomains") or 1), item.get("nodeAffinityPolicy", "Honor") == "Honor",
            item.get("nodeTaintsPolicy", "Ignore") == "Honor"))
    return tuple(constraints)


def pod_shape(template: PodTemplate, namespace: str) -> PodShape:
    """The scheduling view of a pod template (raises ValueError on an unreadable quantity)."""
    spec = template.spec
    node_affinity = dig(spec, "affinity", "nodeAffinity", default={}) or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    preferred = tuple(
        (int(item.get("weight", 0)), _terms([item.get("preference")])[0])
        for item in as_list(node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution"))
        if isinstance(item, Mapping))
    tolerations = tuple(
        Toleration(str(item.get("key") or ""), str(item.get("operator") or "Equal"), str(item.get("value") or ""),
                   str(item.get("effect") or ""))
        for item in as_list(spec.get("tolerations")) if isinstance(item, Mapping))
    pod_affinity = dig(spec, "affinity", "podAffinity", default={}) or {}
    anti_affinity = dig(spec, "affinity", "podAntiAffinity", default={}) or {}
    selector = spec.get("nodeSelector")
    labels = template.labels if isinstance(template.labels, Mapping) else {}
    return PodShape(
        namespace=namespace, labels={str(k): str(v) for k, v in labels.items()}, requests=effective_requests(spec),
        node_selector={str(k): str(v) for k, v in selector.items()} if isinstance(selector, Mapping) else {},
        required_terms=_terms(required.get("nodeSelectorTerms")) if isinstance(required, Mapping) else None,
        preferred_terms=preferred, tolerations=tolerations, spread=_spread(spec.get("topologySpreadConstraints")),
        affinity=_pod_terms(pod_affinity.get("requiredDuringSchedulingIgnoredDuringExecution"), namespace),
        anti_affinity=_pod_terms(anti_affinity.get("requiredDuringSchedulingIgnoredDuringExecution"), namespace))
