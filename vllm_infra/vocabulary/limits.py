"""Limits that both the spec's bounds and the rules' thresholds are built from, so that anything
``synth`` accepts, ``check`` passes. Each names the rule that enforces it on any manifest."""

from __future__ import annotations

from vllm_infra.vocabulary.kubernetes import scaled_int_or_percent

GPU_MEMORY_UTILIZATION_MAX = 1.0
"""Highest ``--gpu-memory-utilization`` vLLM accepts (VI-GPU-004). What a value leaves outside the
budget must hold the CUDA context and, before 0.21, the CUDA graphs: the capacity model checks
that room for the model and GPU at hand (VI-CAP-001; the spec's fit), not a flat ceiling, since
0.95 starts for some models (llm-d's guides) and crash-loops others (llm-d#787)."""

MIN_STARTUP_SECONDS = 600
"""Shortest load budget a startup probe may allow (VI-PRB-001), and the budget assumed for
models whose size is unknown."""

IMAGE_PULL_ALLOWANCE_SECONDS = 300
"""Time a deployment tool's await budget allows for pulling a multi-GB vLLM image (VI-PUL-001)."""

MIN_SCALE_DOWN_STABILIZATION_SECONDS = 300
"""Shortest scale-down stabilization window (VI-AVL-007): warm GPU pods are slow to rebuild."""

MAX_SCALE_UP_PERIOD_SECONDS = 1800
"""Longest ``periodSeconds`` of an HPA scaling policy (the API's maximum)."""

LIVENESS_MIN_FAILURE_THRESHOLD = 3
"""Fewest liveness failures before a restart (VI-PRB-002): a restart reloads the whole model."""

LIVENESS_MIN_TOLERANCE_SECONDS = 30
"""Shortest stall liveness may tolerate (periodSeconds x failureThreshold, VI-PRB-002): a server
busy with long prefills answers /health late, and a restart reloads the whole model."""

READINESS_MIN_FAILURE_THRESHOLD = 2
"""Fewest readiness failures before a pod leaves its Service (VI-PRB-002): at 1, one slow /health
under load takes the pod out of rotation and the traffic piles onto the others."""

MIN_PRE_STOP_SECONDS = 1
"""Shortest preStop sleep (VI-PRB-004): without one, Services and gateways still route new requests
to a pod that has received SIGTERM."""

MIN_GRACE_PERIOD_SECONDS = 60
"""Shortest ``terminationGracePeriodSeconds`` of a vLLM pod (VI-PRB-004)."""

DRAIN_MARGIN_SECONDS = 5
"""Grace beyond preStop + ``--shutdown-timeout`` before the kubelet sends SIGKILL (VI-PRB-004)."""


def required_grace_period(pre_stop: int, shutdown_timeout: int) -> int:
    """``terminationGracePeriodSeconds`` that lets preStop and the drain finish (VI-PRB-004)."""
    return max(MIN_GRACE_PERIOD_SECONDS, pre_stop + shutdown_timeout + DRAIN_MARGIN_SECONDS)


def disruptions_allowed(*, min_available: int | str | None, max_unavailable: int | str | None,
                        replicas: int) -> int:
    """Pods a PodDisruptionBudget lets a drain evict when ``replicas`` pods are healthy
    (percentages round up, as the disruption controller does). VI-AVL-002 requires >= 1 at the
    minimum scale (at least one replica)."""
    if min_available is not None:
        return replicas - scaled_int_or_percent(min_available, replicas, round_up=True)
    if max_unavailable is not None:
        return scaled_int_or_percent(max_unavailable, replicas, round_up=True)
    return replicas


MAX_CLUSTER_NODES = 5_000
"""Kubernetes' supported cluster size (its scalability thresholds: at most 5,000 nodes); a
declared inventory larger than that is a typo, and would cost the simulation without bound."""

