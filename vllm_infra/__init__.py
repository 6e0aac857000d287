"""vllm-infra: one typed declaration of a vLLM model server, rendered into correct, policy-checked
Kubernetes manifests for every environment.

Public API::

    from vllm_infra import VllmServiceSpec, FleetSpec, render_service, render_fleet, load_stack
"""

from __future__ import annotations

from importlib.metadata import version

from vllm_infra.catalog.gpus import GpuType
from vllm_infra.render import RenderContext, render_fleet, render_service
from vllm_infra.spec import FleetSpec, VllmServiceSpec
from vllm_infra.stacks import StackConfigError, fleet_from_config, load_stack

__version__ = version("vllm-infra")

__all__ = [
    "FleetSpec",
    "GpuType",
    "RenderContext",
    "StackConfigError",
    "VllmServiceSpec",
    "__version__",
    "fleet_from_config",
    "load_stack",
    "render_fleet",
    "render_service",
]
