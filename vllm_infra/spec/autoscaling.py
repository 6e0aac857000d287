"""Autoscaling on the load signals vLLM itself reports (never CPU: GPU pods idle their CPUs).

One model per backend, chosen by ``backend`` (``hpa`` when omitted): each accepts only the
fields its autoscaler has.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, StringConstraints, Tag, model_validator

from vllm_infra.catalog.vllm import LoadSignal
from vllm_infra.spec.base import Int32, Problem, Seconds, SpecModel, raise_problems
from vllm_infra.vocabulary.autoscalers import HPA, KEDA
from vllm_infra.vocabulary.limits import MAX_SCALE_UP_PERIOD_SECONDS, MIN_SCALE_DOWN_STABILIZATION_SECONDS

ScalingMetric = LoadSignal
"""The vLLM load signal an autoscaler follows."""

DEFAULT_TARGETS: dict[ScalingMetric, float] = {
    ScalingMetric.QUEUE_DEPTH: 5,
    ScalingMetric.RUNNING_REQUESTS: 0.75,
    ScalingMetric.KV_CACHE_USAGE: 0.7,
}
"""Per-pod targets; running-requests is a fraction of ``model.max_num_seqs``."""

_CRON = re.compile(r"^\S+ \S+ \S+ \S+ \S+$")
Cron = Annotated[str, StringConstraints(pattern=_CRON.pattern)]


class ActivationSpec(SpecModel):
    """What wakes a service scaled to zero. At zero replicas vLLM emits no metrics, so the signal
    must come from in front of it (gateway, router or queue)."""

    query: str = Field(min_length=1)
    """PromQL whose value is above ``activation_threshold`` when requests are waiting, e.g. a
    gateway's request rate for the model. Required."""

    threshold: float = Field(default=1, gt=0)
    """Per-replica target of the same query once the service runs. Default: 1."""

    activation_threshold: float = Field(default=0, ge=0)
    """Value above which the service scales from zero to one. Default: 0."""


class ScheduleSpec(SpecModel):
    """A window (KEDA cron trigger) during which at least ``min_replicas`` run."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][-a-z0-9]*$")]
    """Name of the window, e.g. ``business-hours``. Required."""

    start: Cron
    """Cron expression opening the window, e.g. ``0 8 * * 1-5``. Required."""

    end: Cron
    """Cron expression closing the window, e.g. ``0 19 * * 1-5``. Required."""

    timezone: str = "UTC"
    """IANA time zone of the cron expressions. Default: ``UTC``."""

    min_replicas: Int32 = Field(ge=1)
    """Replicas kept during the window. Required."""


class _AutoscalingFields(SpecModel):
    """What every backend shares: bounds, the vLLM signal and how fast scaling may go."""

    min_replicas: Int32 = Field(default=1, ge=0)
    """Fewest replicas. Default: 1."""

    max_replicas: Int32 = Field(ge=1)
    """Most replicas, above ``min_replicas``; times GPUs per replica this bounds the GPUs the
    service can claim. Required."""

    metric: ScalingMetric = ScalingMetric.QUEUE_DEPTH
    """Load signal to scale on. Default: ``queue-depth``."""

    target: float | None = Field(default=None, gt=0)
    """Per-pod average the autoscaler aims for. Default: 5 waiting requests (queue-depth), 0.75 x
    ``max_num_seqs`` running requests (running-requests), 0.7 (kv-cache-usage, a fraction)."""

    scale_down_stabilization: Seconds = Field(default=300, ge=MIN_SCALE_DOWN_STABILIZATION_SECONDS)
    """How long load must stay low before replicas are removed (also KEDA's cooldown before
    scaling to zero, raised to the startup budget when scaling to zero: a loading pod emits no
    metrics); warm GPU pods are expensive to rebuild. At least 5m. Default: 5m."""

    scale_up_pods: Int32 = Field(default=1, ge=1)
    """Pods added per scale-up period. Default: 1."""

    scale_up_period: Seconds | None = Field(default=None, ge=1, le=MAX_SCALE_UP_PERIOD_SECONDS)
    """Window in which at most ``scale_up_pods`` are added; no shorter than the startup budget
    (or 30m), so the queue a new pod will absorb is not counted twice. Default: the startup
    budget, at most 30m (the HPA maximum)."""

    def resolved_target(self, max_num_seqs: int) -> float:
        """Per-pod target with the default for the metric applied."""
        if self.target is not None:
            return self.target
        if self.metric == ScalingMetric.RUNNING_REQUESTS:
            return float(int(DEFAULT_TARGETS[ScalingMetric.RUNNING_REQUESTS] * max_num_seqs))
        return DEFAULT_TARGETS[self.metric]

    def _bounds_problems(self) -> list[Problem]:
        problems = []
        if self.max_replicas <= self.min_replicas:
            problems.append(Problem(("max_replicas",), f"max_replicas ({self.max_replicas}) must exceed "
                                    f"min_replicas ({self.min_replicas}); for a fixed count set "
                                    "availability.replicas instead", self.max_replicas))
        if self.metric == ScalingMetric.KV_CACHE_USAGE and (self.target or 0) > 1:
            problems.append(Problem(("target",), "kv-cache-usage is a fraction between 0 and 1", self.target))
        return problems


class HpaAutoscalingSpec(_AutoscalingFields):
    """A HorizontalPodAutoscaler on custom metrics served by the Prometheus Adapter."""

    backend: Literal["hpa"] = "hpa"
    """Autoscaler backend. Default: ``hpa``."""

    adapter_metric_name: str | None = Field(default=None, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    """Custom-metrics name the Prometheus Adapter exposes. Default: the vLLM metric with ``vllm:``
    replaced by ``vllm_`` (e.g. ``vllm_num_requests_waiting``)."""

    @model_validator(mode="after")
    def _check(self) -> HpaAutoscalingSpec:
        problems = self._bounds_problems()
        if self.min_replicas == 0:
            problems.insert(0, Problem(("min_replicas",), "scale-to-zero needs backend: keda (an HPA never goes "
                                       "below 1)", self.min_replicas))
        raise_problems("HpaAutoscalingSpec", problems)
        return self


class KedaAutoscalingSpec(_AutoscalingFields):
    """A KEDA ScaledObject querying Prometheus: scale-to-zero and scheduled floors."""

    backend: Literal["keda"]
    """Autoscaler backend. Required: ``keda``."""

    prometheus_url: str = Field(pattern=r"^https?://[^\s@/]+(/\S*)?$")
    """Prometheus server address, without ``user:password@`` (it would sit in the ScaledObject for
    anyone to read; KEDA takes credentials from a TriggerAuthentication). Required."""

    prometheus_labels: dict[str, str] | None = None
    """Label matchers selecting this service's series. Default: ``namespace`` and ``model_name``
    (vLLM labels every metric with the served model name)."""

    activation: ActivationSpec | None = None
    """Signal that wakes the service from zero. Default: none (required when ``min_replicas``
    is 0)."""

    schedules: list[ScheduleSpec] = Field(default_factory=list)
    """Windows with a higher minimum (cron triggers). Default: none."""

    @model_validator(mode="after")
    def _check(self) -> KedaAutoscalingSpec:
        problems = self._bounds_problems()
        if self.min_replicas == 0 and self.activation is None:
            problems.append(Problem(("activation",), "scale-to-zero needs an activation query: at zero replicas "
                                    "vLLM emits no metrics, so nothing could wake the service", None))
        for index, window in enumerate(self.schedules):
            if window.min_replicas > self.max_replicas:
                problems.append(Problem(("schedules", index, "min_replicas"), f"min_replicas ({window.min_replicas}) "
                                        f"exceeds max_replicas ({self.max_replicas})", window.min_replicas))
        raise_problems("KedaAutoscalingSpec", problems)
        return self


AUTOSCALING_BACKENDS = (HPA.backend, KEDA.backend)


def _backend(value: Any) -> str | None:
    backend = value.get("backend", HPA.backend) if isinstance(value, dict) else getattr(value, "backend", None)
    return backend if backend in AUTOSCALING_BACKENDS else None


AutoscalingSpec = Annotated[
    Annotated[HpaAutoscalingSpec, Tag(HPA.backend)] | Annotated[KedaAutoscalingSpec, Tag(KEDA.backend)],
    Discriminator(_backend, custom_error_type="invalid_backend",
                  custom_error_message="backend must be one of: " + ", ".join(AUTOSCALING_BACKENDS)),
]
"""Autoscaler on a vLLM metric, one model per backend. When present it owns the replica count."""
