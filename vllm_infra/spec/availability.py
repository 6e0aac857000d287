"""How many replicas run, how they are replaced, and how many a node drain may take."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from vllm_infra.spec.base import Int32, Problem, SpecModel, raise_problems
from vllm_infra.vocabulary.kubernetes import INT32_MAX

Percent = Annotated[str, StringConstraints(pattern=r"^(100|[1-9]?[0-9])%$")]
IntOrPercent = Annotated[int, Field(ge=0)] | Percent


class RolloutStrategy(StrEnum):
    """Deployment update strategies."""

    ROLLING_UPDATE = "RollingUpdate"
    RECREATE = "Recreate"


class RolloutSpec(SpecModel):
    """How pods are replaced on an update, chosen so a rollout never waits for GPUs that do not
    exist: surge only into declared spare GPUs, otherwise stop one old replica first."""

    strategy: RolloutStrategy = RolloutStrategy.ROLLING_UPDATE
    """``RollingUpdate`` or ``Recreate``. Default: ``RollingUpdate``."""

    max_surge: IntOrPercent | None = None
    """Extra replicas (and their GPUs) a rolling update may start before old ones stop; rejected
    when the spare GPUs cannot hold them. Default: 1 when ``spare_gpus`` covers a replica, else 0."""

    max_unavailable: IntOrPercent | None = None
    """Replicas a rolling update may stop before replacements are ready. Default: 0 when surging,
    else 1."""

    spare_gpus: Int32 | None = Field(default=None, ge=0)
    """GPUs of this service's type kept free for rollouts. Default: the fleet's ``spare_gpus`` for
    the GPU type, else 0."""

    @model_validator(mode="after")
    def _check(self) -> RolloutSpec:
        problems = []
        if self.strategy == RolloutStrategy.RECREATE and (self.max_surge is not None or
                                                          self.max_unavailable is not None):
            problems.append(Problem(("strategy",), "max_surge and max_unavailable only apply to "
                                    "RollingUpdate", self.strategy.value))
        raise_problems("RolloutSpec", problems)
        return self


class DisruptionBudgetSpec(SpecModel):
    """PodDisruptionBudget that lets node drains proceed one pod at a time."""

    enabled: bool = True
    """Render a PodDisruptionBudget; with ``max_unavailable: 1`` it never blocks a drain, even at
    one replica. The restricted profile requires it (VI-AVL-001). Default: true."""

    max_unavailable: Int32 = Field(default=1, ge=1)
    """Pods a voluntary disruption (drain, upgrade, consolidation) may take at once; never 0.
    Default: 1."""

    min_available: Int32 | None = Field(default=None, ge=0)
    """Alternative to ``max_unavailable``: pods that must stay up; must be below the minimum
    replica count so drains are never blocked. Default: none (``max_unavailable`` is used)."""

    @model_validator(mode="after")
    def _check(self) -> DisruptionBudgetSpec:
        if self.min_available is not None and "max_unavailable" in self.model_fields_set:
            raise_problems("DisruptionBudgetSpec", [Problem(
                ("min_available",), "set either min_available or max_unavailable, not both",
                self.min_available)])
        return self


class AvailabilitySpec(SpecModel):
    """Replica count, rollout and disruption budget."""

    replicas: Int32 = Field(default=1, ge=1, le=INT32_MAX)
    """Pods (or pod groups) that serve the model when no autoscaler is configured. Default: 1."""

    rollout: RolloutSpec = RolloutSpec()
    """Update strategy. Default: RollingUpdate, surging into spare GPUs if declared, else one
    replica down at a time."""

    disruption_budget: DisruptionBudgetSpec = DisruptionBudgetSpec()
    """PodDisruptionBudget. Default: on, max_unavailable 1."""
