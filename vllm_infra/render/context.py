"""What a service needs to know about the fleet it is rendered into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION

Manifest = dict[str, Any]
"""A rendered Kubernetes object: a plain JSON-compatible dict."""


@dataclass(frozen=True)
class RenderContext:
    """Namespace, ownership labels and the cluster's Kubernetes version, shared by every object of a
    fleet."""

    namespace: str
    part_of: str = "vllm"
    environment: str | None = None
    kubernetes_version: str = KUBERNETES_VERSION
    """Decides what the cluster serves (image volumes from 1.35)."""
    queue: str | None = None
    """The Kueue LocalQueue serving workloads are admitted through (None: no Kueue)."""
