"""kube-scheduler's filters for GPU placement, over a mutable cluster state with undo.

Modelled, in the default profile's filter order (a node fails at its first failing filter, and
the reasons are tallied the way ``FitError`` prints them): NodeUnschedulable, TaintToleration
(NoSchedule/NoExecute; PreferNoSchedule only scores), NodeAffinity (``nodeSelector`` and required
terms, In/NotIn/Exists/DoesNotExist/Gt/Lt), NodeResourcesFit (effective requests incl. init
containers, sidecars and overhead; extended resources; pod count), PodTopologySpread
(DoNotSchedule, ``minDomains``, node inclusion policies) and InterPodAffinity (required affinity
and anti-affinity, both directions). A node autoscaler adds a node to the first pool (inventory
order) whose fresh node passes every filter, up to the pool's maximum.

Scoring is reduced to a deterministic tie-break: the highest preferred node-affinity weight, then
the lowest soft-spread skew, then the fewest untolerated PreferNoSchedule taints, then the node
left with the fewest free accelerators (packing, as kube-scheduler's MostAllocated strategy does
when weighted on ``nvidia.com/gpu``; the default LeastAllocated scores only CPU and memory), then
inventory order.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from vllm_infra.checker.reading.objects import as_list, labels_match
from vllm_infra.checker.simulation.cluster import (
    CORE_RESOURCES,
    PODS_RESOURCE,
    Cluster,
    Node,
    NodePool,
    Taint,
    accelerator_count,
    gpu_count_of,
)
from vllm_infra.checker.simulation.pods import PodShape, PodTerm, SpreadConstraint

UNSCHEDULABLE = "node(s) were unschedulable"
AFFINITY_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
SPREAD_MISMATCH = "node(s) didn't match pod topology spread constraints"
SPREAD_MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"
POD_AFFINITY_MISMATCH = "node(s) didn't match pod affinity rules"
POD_ANTI_AFFINITY_MISMATCH = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
GROUP_DOMAIN_MISMATCH = "node(s) outside the group's exclusive topology domain"
GROUP_DOMAIN_TAKEN = "node(s) in a topology domain another group holds exclusively"
HARD_EFFECTS = frozenset({"NoSchedule", "NoExecute"})
PREFER_EFFECTS = frozenset({"PreferNoSchedule"})


@dataclass(frozen=True, eq=False)
class Placed:
    """A pod bound to a node."""

    shape: PodShape
    node: Node
    workload: str
    group: int
    """Replica (or LWS group) index within the workload."""
    revision: str = "current"


@dataclass(frozen=True)
class GroupDomain:
    """LeaderWorkerSet exclusive placement: one group per value of ``key``."""

    key: str
    value: str | None
    """The leader's domain (None while placing the leader)."""


class Unschedulable(Exception):
    """No node can take the pod; ``message`` is kube-scheduler's wording, ``full_pools`` the pools
    that would have taken a fresh node but are at their maximum."""

    def __init__(self, message: str, full_pools: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.full_pools = full_pools


def _expression_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = str(expr.get("key")), expr.get("operator")
    values = [str(v) for v in as_list(expr.get("values"))]
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        try:
            actual, bound = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return actual > bound if operator == "Gt" else actual < bound
    return False


def node_affinity_matches(shape: PodShape, labels: Mapping[str, str]) -> bool:
    """``nodeSelector`` and required node affinity: terms are ORed, an empty term matches nothing."""
    if any(labels.get(key) != value for key, value in shape.node_selector.items()):
        return False
    if shape.required_terms is None:
        return True
    return any(term and all(_expression_matches(expr, labels) for expr in term) for term in shape.required_terms)


def preferred_weight(shape: PodShape, labels: Mapping[str, str]) -> int:
    """Sum of the weights of preferred node-affinity terms the node matches."""
    return sum(weight for weight, term in shape.preferred_terms
               if term and all(_expression_matches(expr, labels) for expr in term))


def untolerated(shape: PodShape, node: Node, effects: frozenset[str]) -> list[Taint]:
    """The node's taints with one of ``effects`` that no toleration of the pod tolerates."""
    return [taint for taint in node.taints if taint.effect in effects
            and not any(t.tolerates(taint.key, taint.value, taint.effect) for t in shape.tolerations)]


def untolerated_taint(shape: PodShape, node: Node) -> str | None:
    """The first NoSchedule or NoExecute taint the pod does not tolerate (what filters it out)."""
    found = untolerated(shape, node, HARD_EFFECTS)
    return str(found[0]) if found else None


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector against labels; an empty selector ``{}`` selects everything, null nothing."""
    if not isinstance(selector, Mapping):
        return False
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return True
    return labels_match(selector, labels)


class ClusterState:
    """Nodes, the pods on them and what they use; every change is journalled so a scenario can
    try something and roll back to a checkpoint."""

    def __init__(self, cluster: Cluster, *, autoscale: bool = True) -> None:
        self.cluster = cluster
        self.autoscale = autoscale
        self.nodes: list[Node] = cluster.nodes_at_rest()
        self.pool_size = {pool.name: pool.nodes for pool in cluster.pools}
        self.used: dict[Node, dict[str, int]] = {node: {} for node in self.nodes}
        self.pods: dict[Node, list[Placed]] = {node: [] for node in self.nodes}
        self.cordoned: set[Node] = set()
        self.by_namespace: dict[str, dict[Placed, None]] = {}
        """Bound pods per namespace (ordered sets: a pod leaves in constant time)."""
        self.anti_affine: dict[Placed, None] = {}
        """Bound pods with required anti-affinity terms (which every new pod must respect)."""
        self.lost_zones: set[str] = set()
        """Zones the node autoscaler may no longer create nodes in."""
        self._labelled: dict[tuple[str, str, str], dict[Placed, None]] = {}
        self._journal: list[tuple[str, Any, int, int]] = []
        """(change, what changed, generation and version before it)."""
        self._stamps = itertools.count(1)
        self._static: dict[tuple[Hashable, object], str | None] = {}
        self._affinity: dict[tuple[Hashable, object], bool] = {}
        self._candidate_cache: dict[Hashable, tuple[int, list[Node], Counter[str]]] = {}
        self._domains: dict[tuple[Hashable, str, bool, bool, int], dict[Node, str]] = {}
        self._generation = 0
        """Stamp of the node set (candidates and topology domains depend on it): a new one when
        nodes come or go, the earlier one again when that is rolled back, so what was computed
        for a state stays valid whenever the state returns."""
        self._version = 0
        """Stamp of the bindings (pod counts per domain depend on it), restored the same way."""
        self._counts: dict[tuple[int, int], tuple[int, dict[str, int]]] = {}
        self._views: dict[tuple[int, bool], tuple[int, list[tuple[SpreadConstraint, dict[str, int], int]]]] = {}
        self._preference: dict[tuple[Hashable, object], tuple[int, int]] = {}
        self._term_domains: dict[int, tuple[int, set[str]]] = {}
        self.admitted: Counter[tuple[str, str]] = Counter()
        """GPUs Kueue has admitted per (ClusterQueue, GPU type): bound pods' accelerators."""
        self._pool_gpu = {pool.name: pool.gpu_type or "" for pool in cluster.pools}

    # -- journal ---------------------------------------------------------------------------
    def checkpoint(self) -> int:
        """A mark to roll back to."""
        return len(self._journal)

    def rollback(self, mark: int) -> None:
        """Undo every change made after ``mark``."""
        while len(self._journal) > mark:
            action, value, generation, version = self._journal.pop()
            if action == "bind":
                self._unbind(value)
            elif action == "unbind":
                self._bind(value)
            elif action == "cordon":
                self.cordoned.discard(value)
            elif action == "add-node":
                self._drop_node(value)
            elif action == "remove-node":
                node, index, pods = value
                self._insert_node(node, index)
                for placed in pods:
                    self._bind(placed)
            self._generation, self._version = generation, version

    def _record(self, action: str, value: Any, generation: int, version: int) -> None:
        self._journal.append((action, value, generation, version))

    # -- changes ---------------------------------------------------------------------------
    def _bind(self, placed: Placed) -> None:
        used = self.used[placed.node]
        for key, amount in placed.shape.requests.items():
            used[key] = used.get(key, 0) + amount
        self.pods[placed.node].append(placed)
        self.by_namespace.setdefault(placed.shape.namespace, {})[placed] = None
        for key, value in placed.shape.labels.items():
            self._labelled.setdefault((placed.shape.namespace, key, value), {})[placed] = None
        self._version = next(self._stamps)
        if placed.shape.anti_affinity:
            self.anti_affine[placed] = None
        if placed.shape.cluster_queue is not None:
            self.admitted[(placed.shape.cluster_queue, self._pool_gpu[placed.node.pool])] += \
                accelerator_count(placed.shape.requests)

    def _unbind(self, placed: Placed) -> None:
        used = self.used[placed.node]
        for key, amount in placed.shape.requests.items():
            used[key] -= amount
        self.pods[placed.node].remove(placed)
        del self.by_namespace[placed.shape.namespace][placed]
        for key, value in placed.shape.labels.items():
            del self._labelled[(placed.shape.namespace, key, value)][placed]
        self._version = next(self._stamps)
        if placed.shape.anti_affinity:
            del self.anti_affine[placed]
        if placed.shape.cluster_queue is not None:
            self.admitted[(placed.shape.cluster_queue, self._pool_gpu[placed.node.pool])] -= \
                accelerator_count(placed.shape.requests)

    def bind(self, placed: Placed) -> None:
        """Put a pod on its node."""
        before = self._generation, self._version
        self._bind(placed)
        self._record("bind", placed, *before)

    def evict(self, placed: Placed) -> None:
        """Remove a pod from its node."""
        before = self._generation, self._version
        self._unbind(placed)
        self._record("unbind", placed, *before)

    def cordon(self, node: Node) -> None:
        """Mark a node unschedulable."""
        if node not in self.cordoned:
            self.cordoned.add(node)
            self._record("cordon", node, self._generation, self._version)

    def _insert_node(self, node: Node, index: int) -> None:
        self.nodes.insert(index, node)
        self.used[node], self.pods[node] = {}, []
        self.pool_size[node.pool] += 1
        self._generation = self._version = next(self._stamps)

    def _drop_node(self, node: Node) -> None:
        self.nodes.remove(node)
        del self.used[node], self.pods[node]
        self.pool_size[node.pool] -= 1
        self.cordoned.discard(node)
        self._generation = self._version = next(self._stamps)

    def add_node(self, node: Node) -> None:
        """A node the autoscaler created."""
        before = self._generation, self._version
        self._insert_node(node, len(self.nodes))
        self._record("add-node", node, *before)

    def remove_node(self, node: Node) -> list[Placed]:
        """Take a node away (a lost zone); returns the pods that ran there."""
        before = self._generation, self._version
        pods = list(self.pods[node])
        for placed in pods:
            self._unbind(placed)
        index = self.nodes.index(node)
        self._drop_node(node)
        self._record("remove-node", (node, index, pods), *before)
        return pods

    # -- filters ---------------------------------------------------------------------------
    def _signature(self, shape: PodShape, node: Node) -> tuple[Hashable, object]:
        """What static answers for a pod on a node depend on: the pod's placement fields and the
        node itself when the pod names hosts, else the node's pool and zone (every other label
        is the pool's)."""
        return shape.placement_key, node if shape.node_dependent else node.site

    def _static_reason(self, shape: PodShape, node: Node) -> str | None:
        """TaintToleration and NodeAffinity, which depend only on the pod and the node's pool."""
        key = self._signature(shape, node)
        if key not in self._static:
            taint = untolerated_taint(shape, node)
            self._static[key] = f"node(s) had untolerated taint {taint}" if taint else \
                None if self._affinity_matches(shape, node) else AFFINITY_MISMATCH
        return self._static[key]

    def _affinity_matches(self, shape: PodShape, node: Node) -> bool:
        key = self._signature(shape, node)
        if key not in self._affinity:
            self._affinity[key] = node_affinity_matches(shape, node.labels)
        return self._affinity[key]

    def _candidates(self, shape: PodShape) -> tuple[list[Node], Counter[str]]:
        """Nodes passing the static filters, in inventory order, and the tally of the others'
        reasons (memoised until nodes come or go)."""
        key = shape.placement_key
        cached = self._candidate_cache.get(key)
        if cached is None or cached[0] != self._generation:
            passing, failing = [], Counter[str]()
            for node in self.nodes:
                reason = self._static_reason(shape, node)
                if reason is None:
                    passing.append(node)
                else:
                    failing[reason] += 1
            cached = (self._generation, passing, failing)
            self._candidate_cache[key] = cached
        return cached[1], cached[2]

    def _fit_reasons(self, shape: PodShape, node: Node) -> list[str]:
        used, free = self.used.get(node, {}), node.allocatable
        return [("Too many pods" if key == PODS_RESOURCE else f"Insufficient {key}")
                for key, amount in shape.requests.items() if used.get(key, 0) + amount > free.get(key, 0)]

    def _eligible_domains(self, shape: PodShape, constraint: SpreadConstraint) -> dict[Node, str]:
        """The nodes a spread constraint counts, with their topology value (memoised until nodes
        come or go; node inclusion is decided once per pool and zone)."""
        key = (shape.placement_key, constraint.topology_key, constraint.honor_node_affinity, constraint.honor_taints,
               self._generation)
        if key not in self._domains:
            members: dict[Node, str] = {}
            included: dict[object, bool] = {}
            for node in self.nodes:
                value = node.labels.get(constraint.topology_key)
                if value is None:
                    continue
                site = self._signature(shape, node)
                if site not in included:
                    included[site] = (not constraint.honor_node_affinity or self._affinity_matches(shape, node)) \
                        and not (constraint.honor_taints and untolerated_taint(shape, node))
                if included[site]:
                    members[node] = value
            self._domains[key] = members
        return self._domains[key]

    def matching(self, selector: Mapping[str, Any] | None, namespaces: Iterable[str]) -> Iterator[Placed]:
        """Bound pods in ``namespaces`` that a label selector selects (looked up through the
        selector's rarest ``matchLabels`` entry when it has one)."""
        if not isinstance(selector, Mapping):
            return  # absent, or not a selector at all (the schema rules report that)
        exact = selector.get("matchLabels")
        exact = exact if isinstance(exact, Mapping) else {}
        for namespace in namespaces:
            candidates: dict[Placed, None] | None = None
            for key, value in exact.items():
                found = self._labelled.get((namespace, str(key), str(value)), {})
                if candidates is None or len(found) < len(candidates):
                    candidates = found
            for placed in self.by_namespace.get(namespace, {}) if candidates is None else candidates:
                if _selects(selector, placed.shape.labels):
                    yield placed

    def _domain_counts(self, shape: PodShape, index: int, constraint: SpreadConstraint) -> dict[str, int]:
        """Matching pods per eligible domain of one spread constraint (memoised per binding state)."""
        key = (id(shape), index)
        cached = self._counts.get(key)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        members = self._eligible_domains(shape, constraint)
        counts = dict.fromkeys(members.values(), 0)
        for placed in self.matching(constraint.selector, (shape.namespace,)):
            domain = members.get(placed.node)
            if domain is not None:
                counts[domain] += 1
        self._counts[key] = (self._version, counts)
        return counts

    def _spread_view(self, shape: PodShape, hard: bool) -> list[tuple[SpreadConstraint, dict[str, int], int]]:
        """(constraint, matching pods per eligible domain, global minimum - self match) for the
        pod's hard or soft constraints, memoised per binding state (one computation per placement,
        not per node)."""
        key = (id(shape), hard)
        cached = self._views.get(key)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        view = []
        for index, constraint in enumerate(shape.spread):
            if constraint.hard != hard:
                continue
            counts = self._domain_counts(shape, index, constraint)
            minimum = min(counts.values(), default=0) if len(counts) >= constraint.min_domains else 0
            self_match = 1 if _selects(constraint.selector, shape.labels) else 0
            view.append((constraint, counts, minimum - self_match))
        self._views[key] = (self._version, view)
        return view

    def _spread_reason(self, shape: PodShape, node: Node) -> str | None:
        return _spread_failure(self._spread_view(shape, True), node)

    def _term_domain_has_match(self, term: PodTerm, node: Node) -> bool:
        """Whether a pod the term selects runs in the node's domain (memoised per binding state)."""
        value = node.labels.get(term.topology_key)
        if value is None:
            return False
        cached = self._term_domains.get(id(term))
        if cached is None or cached[0] != self._version:
            values = {v for placed in self.matching(term.selector, term.namespaces)
                      if (v := placed.node.labels.get(term.topology_key)) is not None}
            cached = (self._version, values)
            self._term_domains[id(term)] = cached
        return value in cached[1]

    def _pod_affinity_reason(self, shape: PodShape, node: Node) -> str | None:
        for term in shape.affinity:
            if self._term_domain_has_match(term, node):
                continue
            first_of_its_kind = not any(True for _ in self.matching(term.selector, term.namespaces)) and \
                _selects(term.selector, shape.labels) and term.topology_key in node.labels
            if not first_of_its_kind:
                return POD_AFFINITY_MISMATCH
        if any(self._term_domain_has_match(term, node) for term in shape.anti_affinity):
            return POD_ANTI_AFFINITY_MISMATCH
        for placed in self.anti_affine:
            for term in placed.shape.anti_affinity:
                if shape.namespace in term.namespaces and _selects(term.selector, shape.labels):
                    value = placed.node.labels.get(term.topology_key)
                    if value is not None and node.labels.get(term.topology_key) == value:
                        return EXISTING_ANTI_AFFINITY
        return None

    def _group_reason(self, node: Node, workload: str, group: int, domain: GroupDomain | None) -> str | None:
        if domain is None:
            return None
        value = node.labels.get(domain.key)
        if domain.value is not None:
            return None if value == domain.value else GROUP_DOMAIN_MISMATCH
        if value is None:
            return GROUP_DOMAIN_MISMATCH
        for other in self.nodes:
            if other.labels.get(domain.key) == value and any(
                    p.workload == workload and p.group != group for p in self.pods[other]):
                return GROUP_DOMAIN_TAKEN
        return None

    def reasons(self, shape: PodShape, node: Node, workload: str = "", group: int = 0,
                domain: GroupDomain | None = None) -> list[str]:
        """Why ``node`` cannot take the pod (empty when it can), first failing filter only."""
        if node in self.cordoned:
            return [UNSCHEDULABLE]
        static = self._static_reason(shape, node)
        if static:
            return [static]
        return self._dynamic_reasons(shape, node, workload, group, domain)

    def quota_reason(self, shape: PodShape, node: Node) -> str | None:
        """Why Kueue would not admit the pod for this node's GPU type (the ResourceFlavor it would be
        given): its ClusterQueue's quota of that type is used up, or the queue is not in the inventory."""
        queue = shape.cluster_queue
        wanted = gpu_count_of(shape.requests)
        if queue is None or not wanted:
            return None
        quotas = self.cluster.queues.get(queue)
        if quotas is None:
            return f"Kueue ClusterQueue {queue} is not in the inventory"
        gpu = self._pool_gpu[node.pool]
        used, quota = self.admitted[(queue, gpu)], quotas.get(gpu, 0)
        if used + wanted > quota:
            return f"Kueue ClusterQueue {queue} admits {quota} {gpu or 'accelerators'}, {used} in use"
        return None

    def _dynamic_reasons(self, shape: PodShape, node: Node, workload: str, group: int,
                         domain: GroupDomain | None) -> list[str]:
        """The filters that depend on what is bound (a node that passed the static ones)."""
        fit = self._fit_reasons(shape, node)
        if fit:
            return fit
        for check in (self.quota_reason(shape, node), self._spread_reason(shape, node),
                      self._pod_affinity_reason(shape, node),
                      self._group_reason(node, workload, group, domain)):
            if check:
                return [check]
        return []

    # -- placing ---------------------------------------------------------------------------
    def _static_preference(self, shape: PodShape, node: Node) -> tuple[int, int]:
        """(-preferred node-affinity weight, untolerated PreferNoSchedule taints), per pool."""
        key = self._signature(shape, node)
        if key not in self._preference:
            prefer_no = len(untolerated(shape, node, PREFER_EFFECTS))
            self._preference[key] = (-preferred_weight(shape, node.labels), prefer_no)
        return self._preference[key]

    def place(self, shape: PodShape, workload: str, group: int = 0, *, revision: str = "current",
              domain: GroupDomain | None = None) -> Placed:
        """Bind the pod to the best feasible node, growing a pool if none fits; raises
        Unschedulable with kube-scheduler's message otherwise. The filters of ``reasons``, with
        what does not change from node to node computed once."""
        candidates, static_failures = self._candidates(shape)
        hard, soft = self._spread_view(shape, True), self._spread_view(shape, False)
        requests = sorted(shape.requests.items(), key=lambda item: item[0] in CORE_RESOURCES)  # scarce ones first
        inter_pod = bool(shape.affinity or shape.anti_affinity or self.anti_affine)
        best: tuple[tuple[int, int, int, int], int, Node] | None = None
        for order, node in enumerate(candidates):
            if node in self.cordoned:
                continue
            used, free = self.used[node], node.allocatable
            if not all(used.get(key, 0) + amount <= free.get(key, 0) for key, amount in requests):
                continue
            if _spread_failure(hard, node) or (inter_pod and self._pod_affinity_reason(shape, node)) or \
                    self._group_reason(node, workload, group, domain) or self.quota_reason(shape, node):
                continue
            weight, prefer_no = self._static_preference(shape, node)
            skew = sum(max(0, _skew(counts, offset, node.labels.get(c.topology_key))) for c, counts, offset in soft)
            left = sum(free[key] - used.get(key, 0) - shape.requests.get(key, 0) for key in node.accelerators)
            score = ((weight, skew, prefer_no, left), order, node)
            if best is None or score[:2] < best[:2]:
                best = score
        if best is None:
            grown = self._grow(shape, workload, group, domain)
            if not isinstance(grown, Node):
                tally = Counter(static_failures)  # only now is the tally of every node's reasons needed
                for node in self.cordoned:
                    reason = self._static_reason(shape, node)
                    if reason is not None:
                        tally[reason] -= 1
                        tally[UNSCHEDULABLE] += 1
                for node in candidates:
                    tally.update([UNSCHEDULABLE] if node in self.cordoned else
                                 self._dynamic_reasons(shape, node, workload, group, domain))
                why, full = grown
                raise Unschedulable(fit_error(len(self.nodes), +tally) + why, full)
            best = ((0, 0, 0, 0), 0, grown)
        placed = Placed(shape, best[2], workload, group, revision)
        self.bind(placed)
        return placed

    def _grow(self, shape: PodShape, workload: str, group: int, domain: GroupDomain | None
              ) -> Node | tuple[str, tuple[str, ...]]:
        """A new node of the first pool that can take the pod; otherwise why none can, and the
        pools at their maximum whose nodes the pod could use."""
        if not self.autoscale:
            return "", ()
        why, full = [], []
        for pool in self.cluster.pools:
            if pool.max_nodes <= pool.nodes:
                continue
            if self.pool_size[pool.name] >= pool.max_nodes:
                why.append(f"{pool.name}: at its maximum of {pool.max_nodes} node(s)")
                if self._static_reason(shape, pool.node(self.pool_size[pool.name], added=True)) is None:
                    full.append(pool.name)
                continue
            reason = self._fresh_node_reason(pool, shape, workload, group, domain)
            if isinstance(reason, Node):
                return reason
            why.append(f"{pool.name}: {reason}")
        return (f" No node pool can grow to fit it ({'; '.join(why)})." if why else ""), tuple(full)

    def _fresh_node_reason(self, pool: NodePool, shape: PodShape, workload: str, group: int,
                           domain: GroupDomain | None) -> Node | str:
        index = self.pool_size[pool.name]
        reason = ""
        for offset in range(max(1, len(pool.zones))):
            node = pool.node(index, zone_offset=offset, added=True)
            if node.zone and node.zone in self.lost_zones:
                reason = f"no node in lost zone {node.zone}"
                continue
            self.add_node(node)
            reasons = self.reasons(shape, node, workload, group, domain)
            if not reasons:
                return node
            self.rollback(len(self._journal) - 1)
            reason = reasons[0]
        return reason


def _skew(counts: Mapping[str, int], offset: int, value: str | None) -> int:
    """The skew a pod would make in domain ``value`` (-1 when the node has no such label)."""
    return -1 if value is None else counts.get(value, 0) - offset


def _spread_failure(view: list[tuple[SpreadConstraint, dict[str, int], int]], node: Node) -> str | None:
    """Why the hard spread constraints of a view refuse ``node`` (None when they accept it)."""
    for constraint, counts, offset in view:
        skew = _skew(counts, offset, node.labels.get(constraint.topology_key))
        if skew < 0:
            return SPREAD_MISSING_LABEL
        if skew > constraint.max_skew:
            return SPREAD_MISMATCH
    return None


def fit_error(total: int, tally: Counter[str]) -> str:
    """kube-scheduler's FitError text: ``0/N nodes are available: <count> <reason>, ...``, the
    entries sorted as strings."""
    entries = sorted(f"{count} {reason}" for reason, count in tally.items())
    return f"0/{total} nodes are available: {', '.join(entries)}." if entries else f"0/{total} nodes are available."
