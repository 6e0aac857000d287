"""Accelerators a container asks for: GPUs of the catalog, other accelerators, DRA claims, and
vLLM's CPU build."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vllm_infra.catalog.gpus import GPU_RESOURCE_NAMES, OTHER_ACCELERATOR_PREFIXES
from vllm_infra.catalog.vllm import ImageBuild, image_build
from vllm_infra.checker.reading.environment import env_values
from vllm_infra.checker.reading.objects import dig, image_parts
from vllm_infra.checker.reading.server import engine_args
from vllm_infra.checker.reading.templates import PodTemplate


def gpu_resources(container: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """GPU resource name -> (request, limit) for resources the container mentions."""
    requests = dig(container, "resources", "requests", default={}) or {}
    limits = dig(container, "resources", "limits", default={}) or {}
    return {name: (requests.get(name), limits.get(name)) for name in GPU_RESOURCE_NAMES
            if name in requests or name in limits}


def gpu_count(container: Mapping[str, Any]) -> int:
    """GPUs a container is limited to (0 if none or not an integer)."""
    for _, limit in gpu_resources(container).values():
        try:
            return int(str(limit))
        except ValueError:
            return 0
    return 0


def _resource_names(container: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for key in ("requests", "limits"):
        section = dig(container, "resources", key)
        if type(section) is dict:
            names |= {str(name) for name in section}
    return names


def other_accelerator(template: PodTemplate, container: Mapping[str, Any]) -> bool:
    """The container uses an accelerator outside the GPU catalog, or a DRA claim."""
    return bool(dig(container, "resources", "claims") or template.spec.get("resourceClaims")) or any(
        name.startswith(OTHER_ACCELERATOR_PREFIXES) for name in _resource_names(container))


def build_of(container: Mapping[str, Any]) -> ImageBuild | None:
    """What the container's vLLM was built for: ``VLLM_TARGET_DEVICE``/``--device cpu``, else what
    the image's publisher says (None when neither says)."""
    if env_values(container).get("VLLM_TARGET_DEVICE") == "cpu" or engine_args(container).flag("device") == "cpu":
        return ImageBuild.CPU
    return image_build(image_parts(str(container.get("image", "")))[0])


def is_cpu_build(container: Mapping[str, Any]) -> bool:
    """vLLM's CPU build (see ``build_of``)."""
    return build_of(container) == ImageBuild.CPU

