"""Start-up, health checking and graceful drain."""

from __future__ import annotations

from pydantic import Field, model_validator

from vllm_infra.spec.base import Int32, Problem, Seconds, SpecModel, raise_problems
from vllm_infra.vocabulary.limits import (
    IMAGE_PULL_ALLOWANCE_SECONDS,
    LIVENESS_MIN_FAILURE_THRESHOLD,
    LIVENESS_MIN_TOLERANCE_SECONDS,
    MIN_PRE_STOP_SECONDS,
    MIN_STARTUP_SECONDS,
    READINESS_MIN_FAILURE_THRESHOLD,
)


class ProbeTiming(SpecModel):
    """Timing of one HTTP probe on ``/health``."""

    period_seconds: Int32 = Field(default=10, ge=1)
    """Seconds between checks. Default: 10."""

    timeout_seconds: Int32 = Field(default=5, ge=1)
    """Seconds before one check counts as failed. Default: 5."""

    failure_threshold: Int32 = Field(default=3, ge=READINESS_MIN_FAILURE_THRESHOLD)
    """Consecutive failures before acting, at least 2 (one slow answer must not take a pod out of
    its Service). Default: 3."""


class LivenessTiming(ProbeTiming):
    """Timing of the liveness probe: slower than readiness, and never restarting on fewer than 3
    failures (a restart reloads the whole model)."""

    period_seconds: Int32 = Field(default=20, ge=1)
    """Seconds between checks. Default: 20."""

    timeout_seconds: Int32 = Field(default=10, ge=1)
    """Seconds before one check counts as failed. Default: 10."""

    failure_threshold: Int32 = Field(default=3, ge=LIVENESS_MIN_FAILURE_THRESHOLD)
    """Consecutive failures before the container is restarted, at least 3. Default: 3."""

    @model_validator(mode="after")
    def _tolerates_a_busy_server(self) -> LivenessTiming:
        tolerance = self.period_seconds * self.failure_threshold
        if tolerance < LIVENESS_MIN_TOLERANCE_SECONDS:
            raise_problems("LivenessTiming", [Problem(
                ("period_seconds",), f"liveness restarts after a {tolerance}s stall (period_seconds x "
                                     f"failure_threshold); allow at least {LIVENESS_MIN_TOLERANCE_SECONDS}s",
                self.period_seconds)])
        return self


class DrainSpec(SpecModel):
    """Graceful termination: stop new traffic first, then let in-flight generations finish."""

    endpoint_delay: Seconds = Field(default=15, ge=MIN_PRE_STOP_SECONDS)
    """preStop sleep while Services and gateways stop routing new requests to the pod, at least 1s.
    Default: 15s."""

    request_timeout: Seconds = Field(default=60, ge=0)
    """Time in-flight requests get after SIGTERM (``--shutdown-timeout``, vLLM >= 0.18; setting it
    for an older release is refused, since those abort in-flight requests). Default: 60s."""


class LifecycleSpec(SpecModel):
    """Probes and termination. The startup probe alone guards model loading, so liveness never
    restarts a pod that is still loading weights."""

    startup_timeout: Seconds | None = Field(default=None, ge=MIN_STARTUP_SECONDS)
    """Longest a pod may take from container start to serving (weights download + load + CUDA
    graph capture); at least 10m and at least vllm-infra's estimate for the model. Default: the
    estimate from the model's size (at least 10m)."""

    image_pull_timeout: Seconds = Field(default=600, ge=IMAGE_PULL_ALLOWANCE_SECONDS)
    """Time allowed for pulling the (multi-GB) vLLM image, at least 5m; added to the Pulumi await
    and rollout deadlines. Default: 10m."""

    readiness: ProbeTiming = ProbeTiming()
    """Readiness probe on ``/health``. Default: every 10s, 5s timeout, 3 failures."""

    liveness: LivenessTiming = LivenessTiming()
    """Liveness probe on ``/health``, active only after the startup probe passed; at least 3
    failures before a restart (a restart reloads the model). Default: every 20s, 10s timeout,
    3 failures."""

    drain: DrainSpec = DrainSpec()
    """Graceful termination. Default: 15s endpoint delay, 60s for in-flight requests."""

    @model_validator(mode="after")
    def _check(self) -> LifecycleSpec:
        if self.liveness.model_dump() == self.readiness.model_dump():
            raise_problems("LifecycleSpec", [Problem(
                ("liveness",), "liveness must differ from readiness (VI-PRB-002): a pod that is merely busy would "
                "be restarted, not just taken out of rotation", self.liveness.model_dump())])
        return self
