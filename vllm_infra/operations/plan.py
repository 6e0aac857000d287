"""Capacity and cost plan of a fleet: per service, GPUs, replicas, memory headroom, startup budget,
GPU-hours per month and their cost (prices per GPU-hour; the catalog's list prices by default)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from vllm_infra.catalog.gpus import GPU_CATALOG, GpuType
from vllm_infra.spec.autoscaling import KedaAutoscalingSpec, ScheduleSpec
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.spec.service import VllmServiceSpec
from vllm_infra.vocabulary.units import GIB_BYTES

HOURS_PER_MONTH = 730
WEEKS_PER_MONTH = HOURS_PER_MONTH / (7 * 24)
_SIMPLE_CRON = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* (\*|[0-6](?:-[0-6])?(?:,[0-6](?:-[0-6])?)*)$")


def default_prices() -> dict[GpuType, float]:
    """USD per GPU-hour from the catalog (indicative on-demand list prices)."""
    return {gpu_type: gpu.hourly_price_usd for gpu_type, gpu in GPU_CATALOG.items()}


def _days(field: str) -> int:
    if field == "*":
        return 7
    days: set[int] = set()
    for part in field.split(","):
        first, _, last = part.partition("-")
        days.update(range(int(first), int(last or first) + 1))
    return len(days)


def window_hours_per_month(window: ScheduleSpec) -> float | None:
    """Hours per month a cron window is open (``M H * * DOW`` pairs with equal days; else None)."""
    start, end = _SIMPLE_CRON.match(window.start), _SIMPLE_CRON.match(window.end)
    if not start or not end or start.group(3) != end.group(3):
        return None
    opened = int(start.group(2)) + int(start.group(1)) / 60
    closed = int(end.group(2)) + int(end.group(1)) / 60
    if closed <= opened:
        return None
    return (closed - opened) * _days(start.group(3)) * WEEKS_PER_MONTH


@dataclass(frozen=True)
class ServicePlan:
    """One row of the plan."""

    service: str
    model: str
    gpu_type: str
    gpus_per_replica: int
    replicas_min: int
    replicas_max: int
    weights_per_gpu_gib: float | None
    kv_cache_per_gpu_gib: float | None
    kv_cache_tokens: int | None
    max_model_len: int | None
    full_length_sequences: float | None
    fit: str | None
    """``fits`` or ``tight`` (within the estimate's margin), None for unknown models."""
    loading: str
    """The loading strategy (``download``, ``prefetch``, ``image``, ``stream``)."""
    startup_seconds: int
    """A cold start on a fresh node: the model image's pull, then the startup probe's budget."""
    prefetch_seconds: int
    """The prefetch Job's download, which the first rollout waits for (0 without one)."""
    gpu_hours_min: float
    gpu_hours_max: float
    hourly_price: float
    scheduled: bool

    @property
    def cost_min(self) -> float:
        """USD per month at minimum scale."""
        return self.gpu_hours_min * self.hourly_price

    @property
    def cost_max(self) -> float:
        """USD per month at maximum scale."""
        return self.gpu_hours_max * self.hourly_price


def _floor_hours(service: ResolvedService) -> tuple[float, bool]:
    """Replica-hours per month at minimum scale, raised by scheduled windows where computable."""
    base = service.min_scale * HOURS_PER_MONTH
    extra, scheduled = 0.0, False
    scaling = service.spec.autoscaling
    for window in scaling.schedules if isinstance(scaling, KedaAutoscalingSpec) else []:
        hours = window_hours_per_month(window)
        if hours is not None and window.min_replicas > service.min_scale:
            extra = max(extra, (window.min_replicas - service.min_scale) * hours)
            scheduled = True
    return base + extra, scheduled


def plan_service(spec: VllmServiceSpec, prices: Mapping[GpuType, float]) -> ServicePlan:
    """The plan row of one service."""
    service = spec.resolved
    memory = service.memory_estimate
    replica_hours, scheduled = _floor_hours(service)
    gpus = service.gpus_per_replica
    return ServicePlan(
        service=service.name,
        model=spec.model.id,
        gpu_type=spec.accelerator.type.value,
        gpus_per_replica=gpus,
        replicas_min=service.min_scale,
        replicas_max=service.max_scale,
        weights_per_gpu_gib=memory.weights / GIB_BYTES if memory else None,
        kv_cache_per_gpu_gib=memory.kv_space / GIB_BYTES if memory else None,
        kv_cache_tokens=memory.kv_capacity if memory else None,
        max_model_len=service.context_length,
        full_length_sequences=memory.full_length_sequences if memory else None,
        fit=memory.verdict.value if memory else None,
        loading=service.strategy.value,
        startup_seconds=service.cold_start,
        prefetch_seconds=service.prefetch_seconds,
        gpu_hours_min=replica_hours * gpus,
        gpu_hours_max=service.max_scale * HOURS_PER_MONTH * gpus,
        hourly_price=prices[spec.accelerator.type],
        scheduled=scheduled,
    )


def plan_fleet(fleet: FleetSpec, prices: Mapping[GpuType, float] | None = None) -> list[ServicePlan]:
    """Plan rows of every service of a fleet (one per role of a disaggregated service)."""
    table = {**default_prices(), **(prices or {})}
    return [plan_service(unit, table) for service in fleet.services for unit in service.units]
