"""Placement on a declared cluster, decided by the scheduling simulation (``check --cluster``,
a stack's ``cluster``): the fleet schedules at its minimum and maximum scale and survives the
loss of a zone. Without an inventory nothing here can be known, so these rules stay silent."""

from __future__ import annotations

from collections.abc import Iterator

from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.rules.base import RuleContext, Violation, bundle_rule
from vllm_infra.checker.rules.simulated import simulated
from vllm_infra.checker.simulation.outcomes import Scenario, Verdict
from vllm_infra.vocabulary.reporting import Severity


@bundle_rule(
    "VI-CLU-001", Severity.CRITICAL, "The fleet schedules on the declared cluster at minimum and maximum scale",
    "Add nodes (or raise the pool's max_nodes), lower replicas or GPUs per replica, or relax required "
    "spreading and affinity; `vllm-infra simulate` shows where every pod lands.",
    rationale=("A fleet that cannot place at its minimum scale leaves replicas Pending; at its maximum, "
               "the autoscaler's ceiling is fiction."),
    example=("# a 16-GPU replica on a cluster whose pools hold 8-GPU nodes only, without a LeaderWorkerSet"))
def fleet_schedules(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    if ctx.simulation is None:
        return
    outcomes = ctx.simulation.of(Scenario.MINIMUM) + ctx.simulation.of(Scenario.MAXIMUM)
    yield from simulated(bundle, outcomes, ("spec",), {Verdict.DEGRADED: Severity.MEDIUM})


@bundle_rule(
    "VI-CLU-002", Severity.MEDIUM, "Each workload survives the loss of one zone on the declared cluster",
    "Spread replicas over zones (spread_zones: required) and keep enough spare capacity in every zone to take "
    "another zone's replicas.",
    rationale=("Replicas of one workload in one zone go down together with it, and the other zones may "
               "lack the room to take them."),
    example="# every llama-70b replica on nodes of eu-west-1a")
def zone_loss_survived(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    if ctx.simulation is None:
        return
    yield from simulated(bundle, ctx.simulation.of(Scenario.ZONE_LOSS), ("spec",), {})
