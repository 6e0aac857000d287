"""vllm-infra: one typed declaration of a vLLM model server, rendered into correct, policy-checked
Kubernetes manifests for every environment.

Public API:

- ``VllmServiceSpec``, ``FleetSpec``, ``GpuType`` — the typed declaration (``vllm_infra.spec`` has
  every section model).
- ``render_service``, ``render_fleet``, ``RenderContext`` — pure rendering to Kubernetes dicts.
- ``load_stack``, ``fleet_from_config``, ``StackConfigError`` — read ``Pulumi.<stack>.yaml``.
- ``VllmService``, ``VllmServiceArgs``, ``VllmFleet``, ``VllmFleetArgs`` — Pulumi components
  (need the ``pulumi`` extra; imported on first use so that nothing else pulls in Pulumi).
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from vllm_infra.catalog.gpus import GpuType
from vllm_infra.render import RenderContext, render_fleet, render_service
from vllm_infra.spec import FleetSpec, VllmServiceSpec
from vllm_infra.stacks import StackConfigError, fleet_from_config, load_stack

if TYPE_CHECKING:
    from vllm_infra.pulumi import VllmFleet, VllmFleetArgs, VllmService, VllmServiceArgs

__version__ = version("vllm-infra")

_PULUMI_EXPORTS = frozenset({"VllmFleet", "VllmFleetArgs", "VllmService", "VllmServiceArgs"})

__all__ = [
    "FleetSpec",
    "GpuType",
    "RenderContext",
    "StackConfigError",
    "VllmFleet",
    "VllmFleetArgs",
    "VllmService",
    "VllmServiceArgs",
    "VllmServiceSpec",
    "__version__",
    "fleet_from_config",
    "load_stack",
    "render_fleet",
    "render_service",
]


def __getattr__(name: str) -> Any:
    if name in _PULUMI_EXPORTS:
        return getattr(import_module("vllm_infra.pulumi"), name)
    raise AttributeError(f"module 'vllm_infra' has no attribute {name!r}")
