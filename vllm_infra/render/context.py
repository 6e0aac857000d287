"""What a service needs to know about the fleet it is rendered into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]
"""A rendered Kubernetes object: a plain JSON-compatible dict."""


@dataclass(frozen=True)
class RenderContext:
    """Namespace and ownership labels shared by every object of a fleet."""

    namespace: str
    part_of: str = "vllm"
    environment: str | None = None
