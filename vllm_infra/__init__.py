"""vllm-infra: one typed declaration of a vLLM model server, rendered into correct, policy-checked
Kubernetes manifests for every environment.

Public API:

- ``VllmServiceSpec``, ``FleetSpec``, ``GpuType`` — the typed declaration (``vllm_infra.spec`` has
  every section model).
- ``render_service``, ``render_fleet``, ``RenderContext`` — pure rendering to Kubernetes dicts.
- ``load_stack``, ``fleet_from_config``, ``StackConfigError`` — read ``Pulumi.<stack>.yaml``.
- ``VllmService``, ``VllmServiceArgs``, ``VllmFleet``, ``VllmFleetArgs`` — Pulumi components
  (need the ``pulumi`` extra).

Names are imported on first use, so that ``import vllm_infra.cli`` loads neither pydantic nor
Pulumi before a command needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vllm_infra.catalog.gpus import GpuType
    from vllm_infra.outputs.stack_config import StackConfigError, fleet_from_config, load_stack
    from vllm_infra.pulumi import VllmFleet, VllmFleetArgs, VllmService, VllmServiceArgs
    from vllm_infra.render import RenderContext, render_fleet, render_service
    from vllm_infra.spec import FleetSpec, VllmServiceSpec

_HOMES = {
    "GpuType": "vllm_infra.catalog.gpus",
    "StackConfigError": "vllm_infra.outputs.stack_config",
    "fleet_from_config": "vllm_infra.outputs.stack_config",
    "load_stack": "vllm_infra.outputs.stack_config",
    "VllmFleet": "vllm_infra.pulumi",
    "VllmFleetArgs": "vllm_infra.pulumi",
    "VllmService": "vllm_infra.pulumi",
    "VllmServiceArgs": "vllm_infra.pulumi",
    "RenderContext": "vllm_infra.render",
    "render_fleet": "vllm_infra.render",
    "render_service": "vllm_infra.render",
    "FleetSpec": "vllm_infra.spec",
    "VllmServiceSpec": "vllm_infra.spec",
}

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
    if name == "__version__":  # reading package metadata costs a tenth of the CLI's start-up
        from importlib.metadata import version

        return version("vllm-infra")
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'vllm_infra' has no attribute {name!r}")
