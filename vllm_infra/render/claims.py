"""GPUs through dynamic resource allocation: the ResourceClaimTemplate a service's pods claim their
GPUs from (each pod gets a ResourceClaim of its own), and how the pod and the vLLM container name it."""

from __future__ import annotations

from typing import Any

from vllm_infra.render.context import RenderContext
from vllm_infra.render.labels import metadata
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.vocabulary.kubernetes import DRA_API_VERSION

CLAIM_NAME = "gpus"
"""The claim's name in the pod (``resourceClaims``), the container (``resources.claims``) and the
template's device request."""


def claim_template_name(service: ResolvedService) -> str:
    """Name of the service's ResourceClaimTemplate."""
    return f"{service.name}-{CLAIM_NAME}"


def gpu_claim_template(service: ResolvedService, context: RenderContext) -> dict[str, Any] | None:
    """Exactly the pod's GPUs of the GPU driver's DeviceClass (None when the service counts GPUs
    with the device plugin)."""
    accelerator = service.spec.accelerator
    if not accelerator.claim:
        return None
    request = {"name": CLAIM_NAME, "exactly": {"deviceClassName": accelerator.device_class,
                                               "allocationMode": "ExactCount", "count": service.gpus_per_pod}}
    return {"apiVersion": DRA_API_VERSION, "kind": "ResourceClaimTemplate",
            "metadata": metadata(service, context, name=claim_template_name(service)),
            "spec": {"spec": {"devices": {"requests": [request]}}}}


def pod_claims(service: ResolvedService) -> list[dict[str, str]]:
    """``spec.resourceClaims`` of a pod that claims its GPUs."""
    if not service.spec.accelerator.claim:
        return []
    return [{"name": CLAIM_NAME, "resourceClaimTemplateName": claim_template_name(service)}]
