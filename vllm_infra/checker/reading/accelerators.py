"""Accelerators a container asks for: GPUs of the catalog, other accelerators, DRA claims, and
vLLM's CPU build; and the GPU models a pod's node selection allows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vllm_infra.catalog.gpus import (
    DRA_GPU_DEVICE_CLASSES,
    GPU_CATALOG,
    GPU_MEMORY_LABELS,
    GPU_RESOURCE_NAMES,
    NODE_GPU_LABEL_KEYS,
    OTHER_ACCELERATOR_PREFIXES,
    GpuModel,
    GpuType,
    gpus_of_node_label,
)
from vllm_infra.catalog.vllm import ImageBuild, image_build
from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.reading.environment import env_values
from vllm_infra.checker.reading.objects import as_list, dig
from vllm_infra.checker.reading.server import engine_args, is_vllm_container
from vllm_infra.checker.reading.templates import PodTemplate
from vllm_infra.vocabulary.kubernetes import image_parts


def gpu_resources(container: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """GPU resource name -> (request, limit) for resources the container mentions."""
    requests = dig(container, "resources", "requests", default={}) or {}
    limits = dig(container, "resources", "limits", default={}) or {}
    return {name: (requests.get(name), limits.get(name)) for name in GPU_RESOURCE_NAMES
            if name in requests or name in limits}


def claims_devices(container: Mapping[str, Any]) -> bool:
    """Whether the container takes devices from DRA claims (``resources.claims``) rather than counts."""
    return bool(dig(container, "resources", "claims")) and not gpu_resources(container)


def gpu_count(container: Mapping[str, Any]) -> int:
    """GPUs a container is limited to (0 if none or not an integer)."""
    for _, limit in gpu_resources(container).values():
        try:
            return int(str(limit))
        except ValueError:
            return 0
    return 0


def pod_gpus(template: PodTemplate, container: Mapping[str, Any]) -> int:
    """GPUs a container holds: its count, or for a vLLM server that claims its devices through DRA on
    a pod pinned to a catalog GPU model, the GPUs its flags use on this pod (TP x PP x DP over
    ``--nnodes``), which the claims must provide (VI-GPU-006 checks them where their templates are at
    hand). A claim on a pod pinned to no GPU model may be any device (a Gaudi, a NIC): 0."""
    count = gpu_count(container)
    if count or not claims_devices(container) or not is_vllm_container(container) or not pinned_gpus(template):
        return count
    args = engine_args(container)
    return args.parallelism.world_size // max(1, args.integer("nnodes", 1) or 1)


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


def pinned_gpus(template: PodTemplate) -> list[GpuModel]:
    """GPU types the node selector and required node affinity allow (empty when they name none)."""
    allowed: set[GpuType] | None = None
    selector = template.spec.get("nodeSelector")
    for key, value in (selector.items() if isinstance(selector, Mapping) else ()):
        if key in NODE_GPU_LABEL_KEYS:
            found = set(gpus_of_node_label(str(key), str(value)))
            allowed = found if allowed is None else allowed & found
    terms = as_list(dig(template.spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                        "nodeSelectorTerms"))
    from_terms: set[GpuType] = set()
    named = False
    for term in terms:
        term_types: set[GpuType] | None = None
        for expression in as_list(term.get("matchExpressions") if isinstance(term, Mapping) else None):
            if isinstance(expression, Mapping) and expression.get("key") in NODE_GPU_LABEL_KEYS \
                    and expression.get("operator") == "In":
                found = {t for v in as_list(expression.get("values"))
                         for t in gpus_of_node_label(str(expression["key"]), str(v))}
                term_types = found if term_types is None else term_types & found
        if term_types is not None:
            named = True
            from_terms |= term_types
    if named:
        allowed = from_terms if allowed is None else allowed & from_terms
    sizes = _memory_sizes(selector, terms)
    return [GPU_CATALOG[t] for t in sorted(allowed or ()) if not sizes or str(GPU_CATALOG[t].memory_mib) in sizes]


def _memory_sizes(selector: object, terms: list[Any]) -> set[str]:
    """GPU memory sizes (MiB) a Karpenter or EKS Auto Mode memory label pins, if any."""
    sizes = {str(value) for key, value in selector.items() if key in GPU_MEMORY_LABELS} \
        if isinstance(selector, Mapping) else set()
    for term in terms:
        for expression in as_list(term.get("matchExpressions") if isinstance(term, Mapping) else None):
            if isinstance(expression, Mapping) and expression.get("key") in GPU_MEMORY_LABELS \
                    and expression.get("operator") == "In":
                sizes |= {str(value) for value in as_list(expression.get("values"))}
    return sizes


def vendor_gpus(container: Mapping[str, Any]) -> list[GpuModel]:
    """The catalog GPUs of the vendors whose resources the container asks for (those DRA drivers
    hand out, for a container that claims its devices)."""
    resources = set(DRA_GPU_DEVICE_CLASSES.values()) if claims_devices(container) else set(gpu_resources(container))
    return [gpu for gpu in GPU_CATALOG.values() if gpu.resource_name in resources]


def claimed_gpus(template: PodTemplate, namespace: str, bundle: Bundle) -> dict[str, int] | None:
    """GPU resource -> devices the pod's DRA claims ask for, read from their ResourceClaimTemplates
    in ``bundle``: ``exactly`` requests (and v1beta1's flat ones) of a GPU DeviceClass with
    ExactCount; None when a claim's template is not at hand or asks for all of a class's devices."""
    claimed: dict[str, int] = {}
    for claim in as_list(template.spec.get("resourceClaims")):
        name = claim.get("resourceClaimTemplateName") if isinstance(claim, Mapping) else None
        if not isinstance(name, str):
            continue
        source = bundle.find("ResourceClaimTemplate", name, namespace)
        if source is None:
            return None
        for request in as_list(dig(source, "spec", "spec", "devices", "requests")):
            exact = request.get("exactly", request) if isinstance(request, Mapping) else {}
            resource = DRA_GPU_DEVICE_CLASSES.get(str(exact.get("deviceClassName")))
            if resource is None:
                continue
            if exact.get("allocationMode", "ExactCount") != "ExactCount" or type(exact.get("count", 1)) is not int:
                return None
            claimed[resource] = claimed.get(resource, 0) + int(exact.get("count", 1))
    return claimed
