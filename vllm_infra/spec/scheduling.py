"""Where pods may run: node affinity beyond the GPU type, tolerations, spreading, classes."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from vllm_infra.spec.base import DnsLabel, Int32, Problem, QualifiedName, SpecModel, raise_problems


class NodeOperator(StrEnum):
    """``matchExpressions`` operators for node labels."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    GT = "Gt"
    LT = "Lt"


class NodeRequirement(SpecModel):
    """One node-label condition (``nodeSelectorTerms[].matchExpressions[]``)."""

    key: QualifiedName
    """Node label key. Required."""

    operator: NodeOperator = NodeOperator.IN
    """Comparison. Default: ``In``."""

    values: list[str] = Field(default_factory=list)
    """Values to compare with; empty for ``Exists``/``DoesNotExist``, one integer for ``Gt``/``Lt``.
    Default: none."""

    @model_validator(mode="after")
    def _check(self) -> NodeRequirement:
        needs_values = self.operator in (NodeOperator.IN, NodeOperator.NOT_IN)
        problems = []
        if needs_values and not self.values:
            problems.append(Problem(("values",), f"operator {self.operator} needs at least one value", []))
        if not needs_values and self.operator in (NodeOperator.EXISTS, NodeOperator.DOES_NOT_EXIST) and self.values:
            problems.append(Problem(("values",), f"operator {self.operator} takes no values", self.values))
        if self.operator in (NodeOperator.GT, NodeOperator.LT) and (
            len(self.values) != 1 or not self.values[0].lstrip("-").isdigit()
        ):
            problems.append(Problem(("values",), f"operator {self.operator} takes exactly one integer",
                                    self.values))
        raise_problems("NodeRequirement", problems)
        return self


class PreferredNode(NodeRequirement):
    """A node-label condition the scheduler favours with a weight."""

    weight: Int32 = Field(default=50, ge=1, le=100)
    """Preference weight, 1-100. Default: 50."""


class TolerationEffect(StrEnum):
    """Taint effects."""

    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class Toleration(SpecModel):
    """Lets pods run on nodes with a matching taint."""

    key: QualifiedName
    """Taint key. Required."""

    value: str | None = None
    """Taint value to match exactly. Default: none (tolerates any value)."""

    effect: TolerationEffect | None = None
    """Taint effect to tolerate. Default: all effects."""

    evict_after_seconds: Int32 | None = Field(default=None, ge=0)
    """With ``NoExecute``: stay this long after the taint appears. Default: forever."""

    @model_validator(mode="after")
    def _check(self) -> Toleration:
        if self.evict_after_seconds is not None and self.effect != TolerationEffect.NO_EXECUTE:
            raise_problems("Toleration", [Problem(("evict_after_seconds",),
                                                  "only valid with effect NoExecute", self.evict_after_seconds)])
        return self


class Spread(StrEnum):
    """How strictly replicas are spread over a topology domain."""

    OFF = "off"
    PREFERRED = "preferred"
    """``whenUnsatisfiable: ScheduleAnyway``."""
    REQUIRED = "required"
    """``whenUnsatisfiable: DoNotSchedule``."""


class SchedulingSpec(SpecModel):
    """Placement beyond the GPU type (which always adds a required node-affinity term)."""

    required_nodes: list[NodeRequirement] = Field(default_factory=list)
    """Extra node conditions every pod must meet (ANDed with the GPU-type term). Default: none."""

    preferred_nodes: list[PreferredNode] = Field(default_factory=list)
    """Node conditions the scheduler favours. Default: none."""

    tolerations: list[Toleration] = Field(default_factory=list)
    """Taints to tolerate in addition to the GPU taint. Default: none."""

    spread_nodes: Spread = Spread.PREFERRED
    """Spread replicas over nodes (``kubernetes.io/hostname``). Default: ``preferred``."""

    spread_zones: Spread = Spread.PREFERRED
    """Spread replicas over zones (``topology.kubernetes.io/zone``). Default: ``preferred``."""

    priority_class: DnsLabel | None = None
    """PriorityClass name, so batch work cannot preempt serving. Default: none."""

    runtime_class: DnsLabel | None = None
    """RuntimeClass name (e.g. ``nvidia`` where the GPU runtime is not the default). Default: none."""
