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
    "spreading and affinity; `vllm-infra simulate` shows where every pod lands.")
def fleet_schedules(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    if ctx.simulation is None:
        return
    outcomes = ctx.simulation.of(Scenario.MINIMUM) + ctx.simulation.of(Scenario.MAXIMUM)
    yield from simulated(bundle, outcomes, ("spec",), {Verdict.DEGRADED: Severity.MEDIUM})


@bundle_rule(
    "VI-CLU-002", Severity.MEDIUM, "Each workload survives the loss of one zone on the declared cluster",
    "Spread replicas over zones (spread_zones: required) and keep enough spare capacity in every zone to take "
    "another zone's replicas.")
def zone_loss_survived(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    if ctx.simulation is None:
        return
    yield from simulated(bundle, ctx.simulation.of(Scenario.ZONE_LOSS), ("spec",), {})
