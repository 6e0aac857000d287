"""Identity and exposure: ServiceAccount, ClusterIP Service, optional PVC for the model cache."""

from __future__ import annotations

from typing import Any

from vllm_infra.render.context import RenderContext
from vllm_infra.render.labels import metadata, selector_labels
from vllm_infra.render.pod import PORT_NAME, cache_claim_name
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.spec.storage import CacheType
from vllm_infra.vocabulary.units import format_bytes


def service_account(service: ResolvedService, context: RenderContext) -> dict[str, Any]:
    """Dedicated identity with no API token: vLLM never talks to the API server."""
    sa: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(service, context),
        "automountServiceAccountToken": False,
    }
    if service.spec.image.pull_secrets:
        sa["imagePullSecrets"] = [{"name": name} for name in service.spec.image.pull_secrets]
    return sa


def cluster_service(service: ResolvedService, context: RenderContext,
                    extra_selector: dict[str, str] | None = None) -> dict[str, Any]:
    """ClusterIP Service on the API port (which also serves ``/metrics``)."""
    meta = metadata(service, context, annotations=dict(service.spec.service.annotations) or None)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "ClusterIP",
            "selector": {**selector_labels(service), **(extra_selector or {})},
            "ports": [{"name": PORT_NAME, "port": service.spec.service.port, "targetPort": _target_port(service),
                       "protocol": "TCP", "appProtocol": "http"}],
        },
    }


def _target_port(service: ResolvedService) -> str | int:
    """The API port by name, or by number on decode pods, where a native sidecar (an init container)
    declares it."""
    return service.spec.service.port if service.vllm_port != service.spec.service.port else PORT_NAME


def model_cache_claim(service: ResolvedService, context: RenderContext) -> dict[str, Any] | None:
    """PersistentVolumeClaim for the model cache when the spec asks for one."""
    cache = service.spec.storage.model_cache
    if cache.type != CacheType.PVC:
        return None
    size = service.model_cache_bytes
    assert size is not None
    spec: dict[str, Any] = {"accessModes": [cache.access_mode.value],
                            "resources": {"requests": {"storage": format_bytes(size)}}}
    if cache.storage_class:
        spec["storageClassName"] = cache.storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": metadata(service, context, name=cache_claim_name(service)), "spec": spec}
