"""What a simulation concludes: a verdict per scenario and workload (or pool), and snapshots of
where pods sit. Kept apart from the simulator so rules can read results without importing it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from vllm_infra.checker.simulation.cluster import Node


class Verdict(StrEnum):
    """How a scenario ends for one workload or pool."""

    OK = "ok"
    DEGRADED = "degraded"
    """It completes, but the workload runs below its replicas (or not at all) on the way."""
    BLOCKED = "blocked"
    """It cannot complete: pods stay Pending, a rollout or drain makes no progress."""


SEVERITY_ORDER = {Verdict.OK: 0, Verdict.DEGRADED: 1, Verdict.BLOCKED: 2}


class Scenario(StrEnum):
    """What is simulated."""

    MINIMUM = "minimum"
    MAXIMUM = "maximum"
    ROLLOUT = "rollout"
    DRAIN = "drain"
    ZONE_LOSS = "zone-loss"
    SCALE_OUT = "scale-out"


@dataclass(frozen=True)
class Outcome:
    """One scenario's verdict for one workload (``Kind/namespace/name``, ``.../role`` for a
    DisaggregatedSet's role) or node pool."""

    scenario: Scenario
    subject: str
    verdict: Verdict
    detail: str
    reason: str = ""
    """kube-scheduler's message for the pod that stayed Pending, when one did."""

    @property
    def workload(self) -> tuple[str, str, str]:
        """(kind, namespace, name) of the object the subject names (a DisaggregatedSet's role is
        ``DisaggregatedSet/namespace/name/role``)."""
        kind, namespace, name = self.subject.split("/", 2)
        return kind, namespace, name.partition("/")[0]


@dataclass(frozen=True)
class Snapshot:
    """Where every pod sits at one moment, for pictures: node name -> (workload, revision)."""

    title: str
    nodes: tuple[Node, ...]
    pods: dict[str, tuple[tuple[str, str, int], ...]]
    """Node name -> (workload key, revision, accelerators) of each pod on it."""


@dataclass
class Simulation:
    """Every outcome and the snapshots taken on the way."""

    outcomes: list[Outcome] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)

    def of(self, scenario: Scenario) -> list[Outcome]:
        """Outcomes of one scenario."""
        return [o for o in self.outcomes if o.scenario == scenario]

    def worst(self) -> Verdict:
        """The worst verdict of all outcomes."""
        return max((o.verdict for o in self.outcomes), key=SEVERITY_ORDER.__getitem__, default=Verdict.OK)
