"""Placement on a declared cluster, decided by the scheduling simulation (``check --cluster``,
a stack's ``cluster``): the fleet schedules at its minimum and maximum scale and survives the
loss of a zone. Without an inventory nothing here can be known, so these rules stay silent."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from vllm_infra.checker.rules.base import RuleContext, Violation, bundle_rule
from vllm_infra.checker.rules.bundle import Bundle
from vllm_infra.checker.simulation.outcomes import Outcome, Scenario, Verdict
from vllm_infra.vocabulary.paths import FieldPath
from vllm_infra.vocabulary.reporting import Severity

UNVERIFIED = "unverified against a cluster: no inventory given to check --cluster"
"""What heuristic scheduling findings add when no cluster was declared."""


def simulated(bundle: Bundle, outcomes: Iterable[Outcome], path: FieldPath,
              lesser: dict[Verdict, Severity | None]) -> Iterator[Violation]:
    """A violation on the workload of each outcome that is not ok; ``lesser`` gives the severity
    of a verdict (None: the rule's own)."""
    for outcome in outcomes:
        if outcome.verdict == Verdict.OK:
            continue
        kind, namespace, name = outcome.subject.split("/", 2)
        obj = bundle.find(kind, name, namespace)
        if obj is None:
            continue
        reason = f": {outcome.reason}" if outcome.reason else ""
        yield Violation(path, f"{outcome.scenario.value} on the declared cluster {outcome.verdict.value}: "
                              f"{outcome.detail}{reason}", obj=obj, severity=lesser.get(outcome.verdict))


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
