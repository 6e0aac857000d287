"""Replica bounds of autoscalers (HPA, KEDA ScaledObject), with each backend's defaults."""

from __future__ import annotations

from vllm_infra.checker.reading.objects import Manifest, dig
from vllm_infra.vocabulary.autoscalers import AUTOSCALERS


def min_replicas(scaler: Manifest) -> int:
    """Minimum replicas of an autoscaler (its backend's default when unset)."""
    kind = AUTOSCALERS[str(scaler.get("kind"))]
    return int(dig(scaler, *kind.min_replicas_path, default=kind.min_replicas_default))


def max_replicas(scaler: Manifest) -> int:
    """Maximum replicas of an autoscaler (its backend's default, or the minimum, when unset)."""
    kind = AUTOSCALERS[str(scaler.get("kind"))]
    default = kind.max_replicas_default if kind.max_replicas_default is not None else min_replicas(scaler)
    return int(dig(scaler, *kind.max_replicas_path, default=default))

