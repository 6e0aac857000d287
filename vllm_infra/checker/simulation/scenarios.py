"""The scenarios a fleet must survive, played on a cluster state: the fleet at its minimum and
maximum scale, a rolling update of each workload, a drain of each node, the loss of each zone,
and the node scale-out they need. Each yields a verdict per workload (or pool)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.simulation.cluster import Cluster, Node, accelerator_count
from vllm_infra.checker.simulation.outcomes import (
    SEVERITY_ORDER,
    Outcome,
    Scenario,
    Simulation,
    Snapshot,
    Verdict,
)
from vllm_infra.checker.simulation.scheduler import ClusterState, GroupDomain, Placed, Unschedulable
from vllm_infra.checker.simulation.workloads import Workload, workloads

Replica = list[Placed]


def place_replica(state: ClusterState, workload: Workload, index: int, revision: str = "current") -> Replica:
    """Bind one replica's pods (all of a group or none); raises Unschedulable."""
    mark = state.checkpoint()
    placed: Replica = []
    domain = GroupDomain(workload.exclusive_topology, None) if workload.exclusive_topology else None
    try:
        for shape in workload.pods:
            pod = state.place(shape, workload.key, index, revision=revision, domain=domain)
            placed.append(pod)
            if domain is not None and domain.value is None:
                domain = GroupDomain(domain.key, pod.node.labels.get(domain.key))
    except Unschedulable:
        state.rollback(mark)
        raise
    return placed


def remove_replica(state: ClusterState, replica: Replica) -> None:
    """Delete one replica's pods."""
    for pod in replica:
        state.evict(pod)


def _snapshot(title: str, state: ClusterState) -> Snapshot:
    return Snapshot(title, tuple(state.nodes), {
        node.name: tuple((p.workload, p.revision, accelerator_count(p.shape.requests)) for p in state.pods[node])
        for node in state.nodes})


def _placement_order(fleet: list[Workload]) -> list[Workload]:
    """Largest replicas first (first-fit decreasing), so a fleet that can be packed is packed."""
    return sorted(fleet, key=lambda w: (-w.accelerators, -len(w.pods), w.key))


@dataclass
class Placement:
    """The fleet bound at one scale: replicas per workload and what stayed Pending."""

    replicas: dict[str, list[Replica]]
    pending: dict[str, Unschedulable]
    """Workload key -> why its first replica that did not fit stayed Pending."""


def place_fleet(state: ClusterState, fleet: list[Workload], scale: Callable[[Workload], int],
                base: Placement | None = None) -> Placement:
    """Bind every workload up to ``scale(workload)`` replicas (on top of ``base``)."""
    replicas = {w.key: list(base.replicas.get(w.key, [])) if base else [] for w in fleet}
    pending: dict[str, Unschedulable] = {}
    for workload in _placement_order(fleet):
        have = replicas[workload.key]
        for index in range(len(have), scale(workload)):
            try:
                have.append(place_replica(state, workload, index))
            except Unschedulable as error:
                pending[workload.key] = error
                break
    return Placement(replicas, pending)


def scale_outcomes(fleet: list[Workload], at_min: Placement, at_max: Placement) -> Iterator[Outcome]:
    """(a) the fleet at its minimum (anything Pending blocks) and maximum (Pending degrades)."""
    for workload in fleet:
        for scenario, placement, target, bad in ((Scenario.MINIMUM, at_min, workload.min_replicas, Verdict.BLOCKED),
                                                 (Scenario.MAXIMUM, at_max, workload.max_replicas, Verdict.DEGRADED)):
            bound = len(placement.replicas[workload.key])
            if workload.key in placement.pending:
                yield Outcome(scenario, workload.key, bad, f"{bound} of {target} replica(s) placed",
                              placement.pending[workload.key].message)
            else:
                yield Outcome(scenario, workload.key, Verdict.OK, f"{target} replica(s) placed")


def rollout(state: ClusterState, workload: Workload, current: list[Replica],
            on_step: Callable[[int], None] | None = None) -> Outcome:
    """(b) A rolling update step by step as the controllers do it: create new replicas while the
    total stays within replicas + maxSurge, delete old ones while the available stay at or above
    replicas - maxUnavailable. A step where nothing can change is a deadlock."""
    replicas = len(current)
    if replicas == 0 or workload.strategy == "OnDelete":
        return Outcome(Scenario.ROLLOUT, workload.key, Verdict.OK,
                       "nothing to roll" if replicas == 0 else "OnDelete: pods change when deleted by hand")
    surge, unavailable = (0, replicas) if workload.strategy == "Recreate" else \
        (workload.max_surge, workload.max_unavailable)
    old, new = list(current), list[Replica]()
    pending, reason, outage_steps, step = 0, "", 0, 0
    while old or len(new) < replicas:
        step += 1
        progress = False
        while pending:
            try:
                new.append(place_replica(state, workload, replicas + len(new), "new"))
            except Unschedulable as error:
                reason = error.message
                break
            pending -= 1
            progress = True
        room = min(replicas - len(new) - pending, replicas + surge - len(old) - len(new) - pending)
        for _ in range(max(0, room)):
            progress = True
            if not pending:
                try:
                    new.append(place_replica(state, workload, replicas + len(new), "new"))
                    continue
                except Unschedulable as error:
                    reason = error.message
            pending += 1
        removable = min(len(old), len(old) + len(new) - (replicas - unavailable))
        for _ in range(max(0, removable)):
            remove_replica(state, old.pop(0))
            progress = True
        if on_step is not None:
            on_step(step)
        if not old and not new:
            outage_steps += 1
        if not progress:
            return Outcome(Scenario.ROLLOUT, workload.key, Verdict.BLOCKED,
                           f"deadlock at step {step}: {len(old)} old and {len(new)} new replica(s) running, "
                           f"{pending} new Pending (maxSurge {surge}, maxUnavailable {unavailable})", reason)
    if outage_steps:
        return Outcome(Scenario.ROLLOUT, workload.key, Verdict.DEGRADED,
                       f"completes in {step} step(s), but no replica serves while the first replacement starts "
                       f"(maxSurge {surge}, maxUnavailable {unavailable} at {replicas} replica(s))", reason)
    return Outcome(Scenario.ROLLOUT, workload.key, Verdict.OK,
                   f"completes in {step} step(s) (maxSurge {surge}, maxUnavailable {unavailable})")


def _healthy(placement: dict[str, list[Replica]], workload: Workload) -> int:
    return sum(len(replica) for replica in placement[workload.key])


def drain(state: ClusterState, node: Node, fleet: dict[str, Workload],
          placement: dict[str, list[Replica]]) -> dict[str, Outcome]:
    """(c) Cordon ``node`` and evict its pods through the Eviction API: a pod goes only while its
    PodDisruptionBudget allows a disruption; the controller recreates it elsewhere (a group as a
    whole). Returns an outcome for each workload that had pods on the node."""
    state.cordon(node)
    outcomes: dict[str, Outcome] = {}
    waits: dict[str, int] = {}
    for pod in sorted(state.pods[node], key=lambda p: (p.workload, p.group)):
        workload = fleet.get(pod.workload)
        replicas = placement.get(pod.workload)
        if workload is None or replicas is None:
            continue
        replica = next((r for r in replicas if pod in r), None)
        if replica is None:
            continue
        expected = workload.min_replicas * len(workload.pods) or len(workload.pods)
        budget = workload.budget
        if budget is not None and budget.allowed(_healthy(placement, workload), expected) < 1:
            outcomes[workload.key] = Outcome(
                Scenario.DRAIN, workload.key, Verdict.BLOCKED,
                f"drain of {node.name} cannot finish: PodDisruptionBudget {budget.name} allows 0 disruptions with "
                f"{_healthy(placement, workload)} of {expected} pod(s) healthy")
            continue
        remove_replica(state, replica)
        replicas.remove(replica)
        try:
            replicas.append(place_replica(state, workload, replica[0].group))
        except Unschedulable as error:
            detail = (f"evicted from {node.name}; the replacement stays Pending ({_healthy(placement, workload)} "
                      "pod(s) left)")
            outcomes[workload.key] = Outcome(Scenario.DRAIN, workload.key, Verdict.DEGRADED, detail, error.message)
            continue
        waits[workload.key] = waits.get(workload.key, 0) + 1
        if outcomes.get(workload.key, Outcome(Scenario.DRAIN, "", Verdict.OK, "")).verdict == Verdict.OK:
            seconds = waits[workload.key] * workload.startup_seconds  # the PDB lets one go at a time
            outcomes[workload.key] = Outcome(
                Scenario.DRAIN, workload.key, Verdict.OK,
                f"evicted from {node.name} and rescheduled; one replica short for about {seconds} s")
    return outcomes


def zone_loss(state: ClusterState, zone: str, fleet: dict[str, Workload],
              placement: dict[str, list[Replica]]) -> dict[str, Outcome]:
    """(d) Every node of ``zone`` disappears at once (no PodDisruptionBudget applies); lost
    replicas are recreated on what is left, new nodes only outside the zone."""
    state.lost_zones.add(zone)
    owner = {pod: (key, replica) for key, replicas in placement.items() for replica in replicas for pod in replica}
    lost: dict[str, list[Replica]] = {}
    for node in [n for n in state.nodes if n.zone == zone]:
        for pod in state.remove_node(node):
            key, replica = owner.get(pod, ("", []))
            if replica not in placement.get(key, ()):
                continue  # not a replica we track, or already taken down with another of its pods
            placement[key].remove(replica)
            for other in replica:
                if other is not pod and other.node in state.pods:
                    state.evict(other)
            lost.setdefault(key, []).append(replica)
    outcomes = {}
    for key, replicas in sorted(lost.items()):
        workload, reason, target = fleet[key], "", len(placement[key]) + len(replicas)
        for replica in replicas:
            try:
                placement[key].append(place_replica(state, workload, replica[0].group))
            except Unschedulable as error:
                reason = error.message
                break
        running = len(placement[key])
        if not reason:
            outcomes[key] = Outcome(Scenario.ZONE_LOSS, key, Verdict.OK,
                                    f"losing {zone}: {len(replicas)} replica(s) rescheduled in other zones")
        else:
            verdict = Verdict.BLOCKED if running == 0 else Verdict.DEGRADED
            outcomes[key] = Outcome(Scenario.ZONE_LOSS, key, verdict,
                                    f"losing {zone}: {running} replica(s) left of {target}", reason)
    state.lost_zones.discard(zone)
    return outcomes


def simulate(cluster: Cluster, fleet: list[Workload], *, progress: Callable[[str], None] | None = None
             ) -> Simulation:
    """Every scenario for ``fleet`` on ``cluster`` (each starts from the fleet at its minimum)."""
    result = Simulation()
    by_key = {w.key: w for w in fleet}
    state = ClusterState(cluster)
    at_min = place_fleet(state, fleet, lambda w: w.min_replicas)
    min_sizes = dict(state.pool_size)
    result.snapshots.append(_snapshot("minimum scale", state))
    base = state.checkpoint()
    at_max = place_fleet(state, fleet, lambda w: w.max_replicas, at_min)
    max_sizes = dict(state.pool_size)
    result.snapshots.append(_snapshot("maximum scale", state))
    result.outcomes.extend(scale_outcomes(fleet, at_min, at_max))
    result.outcomes.extend(scale_out(cluster, min_sizes, max_sizes, at_max))
    state.rollback(base)
    _rollouts(state, fleet, at_min, result, progress)
    _drains(state, by_key, at_min, result, progress)
    _zones(state, by_key, at_min, result)
    return result


def scale_out(cluster: Cluster, at_min: dict[str, int], at_max: dict[str, int], placement: Placement
              ) -> Iterator[Outcome]:
    """(e) Nodes each pool needs at the fleet's minimum and maximum scale, within its maximum."""
    for pool in cluster.pools:
        detail = (f"{pool.nodes} node(s) at rest, {at_min[pool.name]} at minimum scale, {at_max[pool.name]} at "
                  f"maximum scale (pool maximum {pool.max_nodes})")
        full = any(pool.name in error.full_pools for error in placement.pending.values())
        yield Outcome(Scenario.SCALE_OUT, f"NodePool/{pool.name}", Verdict.BLOCKED if full else Verdict.OK, detail)


def _rollouts(state: ClusterState, fleet: list[Workload], at_min: Placement, result: Simulation,
              progress: Callable[[str], None] | None) -> None:
    pictured = False
    for workload in _placement_order(fleet):
        if progress is not None:
            progress(f"rollout {workload.key}")
        mark = state.checkpoint()

        def picture(step: int, workload: Workload = workload) -> None:
            nonlocal pictured
            if not pictured and workload.accelerators and any(
                    p.revision == "new" for pods in state.pods.values() for p in pods if p.workload == workload.key):
                result.snapshots.append(_snapshot(f"rollout of {workload.name}, step {step}", state))
                pictured = True

        result.outcomes.append(rollout(state, workload, list(at_min.replicas[workload.key]), picture))
        state.rollback(mark)


def _merge(found: dict[str, Outcome], more: dict[str, Outcome]) -> None:
    for key, outcome in more.items():
        if key not in found or SEVERITY_ORDER[outcome.verdict] > SEVERITY_ORDER[found[key].verdict]:
            found[key] = outcome


def _drains(state: ClusterState, fleet: dict[str, Workload], at_min: Placement, result: Simulation,
            progress: Callable[[str], None] | None) -> None:
    found: dict[str, Outcome] = {}
    for node in list(state.nodes):
        if progress is not None:
            progress(f"drain {node.name}")
        mark = state.checkpoint()
        placement = {key: list(replicas) for key, replicas in at_min.replicas.items()}
        _merge(found, drain(state, node, fleet, placement))
        state.rollback(mark)
    for key in fleet:
        result.outcomes.append(found.get(key, Outcome(Scenario.DRAIN, key, Verdict.OK, "no pods to evict")))


def _zones(state: ClusterState, fleet: dict[str, Workload], at_min: Placement, result: Simulation) -> None:
    zones = sorted({node.zone for node in state.nodes if node.zone})
    found: dict[str, Outcome] = {}
    for zone in zones if len(zones) > 1 else ():
        mark = state.checkpoint()
        placement = {key: list(replicas) for key, replicas in at_min.replicas.items()}
        _merge(found, zone_loss(state, zone, fleet, placement))
        state.rollback(mark)
    for key in fleet:
        detail = "survives the loss of any one zone" if len(zones) > 1 else "single-zone cluster: not simulated"
        result.outcomes.append(found.get(key, Outcome(Scenario.ZONE_LOSS, key, Verdict.OK, detail)))


def simulate_manifests(cluster: Cluster, manifests: Sequence[Mapping[str, Any]],
                       progress: Callable[[str], None] | None = None) -> Simulation:
    """Every scenario for the workloads among ``manifests``."""
    return simulate(cluster, workloads(Bundle(list(manifests))), progress=progress)
