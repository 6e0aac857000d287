"""Facts about vLLM releases that change what we render: flags and metric names per version."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")

CPU_BUILD_MARKERS = ("-cpu", "cpu-", "/cpu")
"""Image repository spellings of vLLM's CPU builds (``vllm/vllm-openai-cpu``,
``public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo``); ``VLLM_TARGET_DEVICE=cpu`` or ``--device cpu``
say the same."""

VLLM_DEFAULT_PORT = 8000
"""Where `vllm serve` listens without ``--port`` (the API, /health and /metrics)."""


class VllmVersion(NamedTuple):
    """A vLLM release as (major, minor, patch); tuples compare in release order."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> VllmVersion | None:
        """Read ``v0.11.0``, ``0.10.1.1`` or ``v0.9.2-cu128``; None if ``text`` names no release."""
        match = _VERSION.match(text)
        return cls(*(int(part) for part in match.groups())) if match else None

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


CACHE_DIR_ENV = ("HOME", "HF_HOME", "XDG_CACHE_HOME", "VLLM_CACHE_ROOT", "TRITON_CACHE_DIR",
                 "TORCHINDUCTOR_CACHE_DIR", "NUMBA_CACHE_DIR")
"""Environment variables that decide where vLLM and its libraries (Hugging Face Hub, Triton,
torch.compile, Numba) write at run time; under a read-only root filesystem each must point at a
writable mount."""

SHUTDOWN_TIMEOUT_SINCE = VllmVersion(0, 18, 0)
"""``vllm serve --shutdown-timeout`` (drain in-flight requests on SIGTERM) first shipped in 0.18.0
(vllm-project/vllm#34730)."""


class LoadSignal(StrEnum):
    """Per-pod load signals vLLM reports on ``/metrics`` that autoscalers can use."""

    QUEUE_DEPTH = "queue-depth"
    """``vllm:num_requests_waiting``: requests queued because the running batch is full."""
    RUNNING_REQUESTS = "running-requests"
    """``vllm:num_requests_running``: requests in the running batch."""
    KV_CACHE_USAGE = "kv-cache-usage"
    """``vllm:kv_cache_usage_perc`` (``vllm:gpu_cache_usage_perc`` before 0.9.2): 0-1."""


@dataclass(frozen=True)
class MetricLifetime:
    """Releases in which vLLM emits a metric by default: ``since <= version < until``."""

    since: VllmVersion
    until: VllmVersion | None = None

    def emitted_by(self, version: VllmVersion) -> bool:
        """Whether ``version`` emits the metric without extra flags."""
        return self.since <= version and (self.until is None or version < self.until)


_ALWAYS = VllmVersion(0, 0, 0)
METRIC_LIFETIMES: dict[str, MetricLifetime] = {
    "vllm:num_requests_waiting": MetricLifetime(_ALWAYS),
    "vllm:num_requests_running": MetricLifetime(_ALWAYS),
    "vllm:kv_cache_usage_perc": MetricLifetime(VllmVersion(0, 9, 2)),
    # Deprecated in 0.9.2, hidden in 0.11 (needs --show-hidden-metrics-for-version=0.10), removed in 0.12.
    "vllm:gpu_cache_usage_perc": MetricLifetime(_ALWAYS, VllmVersion(0, 11, 0)),
    "vllm:generation_tokens_total": MetricLifetime(_ALWAYS),
    "vllm:prompt_tokens_total": MetricLifetime(_ALWAYS),
}
"""Lifetimes of the metrics autoscalers use (vllm/v1/metrics/loggers.py, vllm-project/vllm#18354,
#29330)."""


def metric_for(signal: LoadSignal, version: VllmVersion) -> str:
    """The Prometheus metric that carries ``signal`` in ``version``."""
    if signal == LoadSignal.QUEUE_DEPTH:
        return "vllm:num_requests_waiting"
    if signal == LoadSignal.RUNNING_REQUESTS:
        return "vllm:num_requests_running"
    new = "vllm:kv_cache_usage_perc"
    return new if METRIC_LIFETIMES[new].emitted_by(version) else "vllm:gpu_cache_usage_perc"
