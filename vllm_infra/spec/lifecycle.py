"""Start-up, health checking and graceful drain."""

from __future__ import annotations

from pydantic import Field

from vllm_infra.spec.base import Seconds, SpecModel


class ProbeTiming(SpecModel):
    """Timing of one HTTP probe on ``/health``."""

    period_seconds: int = Field(default=10, ge=1)
    """Seconds between checks. Default: 10."""

    timeout_seconds: int = Field(default=5, ge=1)
    """Seconds before one check counts as failed. Default: 5."""

    failure_threshold: int = Field(default=3, ge=1)
    """Consecutive failures before acting. Default: 3."""


class DrainSpec(SpecModel):
    """Graceful termination: stop new traffic first, then let in-flight generations finish."""

    endpoint_delay: Seconds = Field(default=15, ge=0)
    """preStop sleep while Services and gateways stop routing new requests to the pod.
    Default: 15s."""

    request_timeout: Seconds = Field(default=60, ge=0)
    """Time in-flight requests get after SIGTERM (``--shutdown-timeout`` on vLLM >= 0.18).
    Default: 60s."""

    @property
    def grace_period(self) -> int:
        """``terminationGracePeriodSeconds``: preStop + drain + 15s margin, at least 60s."""
        return max(60, self.endpoint_delay + self.request_timeout + 15)


class LifecycleSpec(SpecModel):
    """Probes and termination. The startup probe alone guards model loading, so liveness never
    restarts a pod that is still loading weights."""

    startup_timeout: Seconds | None = Field(default=None, ge=60)
    """Longest a pod may take from container start to serving (weights download + load + CUDA
    graph capture). Default: derived from the model's size (at least 10m)."""

    image_pull_timeout: Seconds = Field(default=600, ge=0)
    """Time allowed for pulling the (multi-GB) vLLM image; added to the Pulumi await and rollout
    deadlines. Default: 10m."""

    readiness: ProbeTiming = Field(default_factory=ProbeTiming)
    """Readiness probe on ``/health``. Default: every 10s, 5s timeout, 3 failures."""

    liveness: ProbeTiming = Field(
        default_factory=lambda: ProbeTiming(period_seconds=20, timeout_seconds=10, failure_threshold=3)
    )
    """Liveness probe on ``/health``, active only after the startup probe passed.
    Default: every 20s, 10s timeout, 3 failures."""

    drain: DrainSpec = Field(default_factory=DrainSpec)
    """Graceful termination. Default: 15s endpoint delay, 60s for in-flight requests."""
