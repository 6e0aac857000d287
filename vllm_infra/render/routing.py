"""Gateway API Inference Extension objects: an InferencePool over the serving pods and an
HTTPRoute from a Gateway to it (or to the Service when there is no pool)."""

from __future__ import annotations

from typing import Any

from vllm_infra.render.context import RenderContext
from vllm_infra.render.labels import metadata, selector_labels
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.vocabulary.kubernetes import LWS_LEADER_INDEX, LWS_WORKER_INDEX_LABEL

INFERENCE_GROUP = "inference.networking.k8s.io"


def serving_selector(service: ResolvedService) -> dict[str, str]:
    """Labels of the pods that serve requests (leaders only for multi-node groups)."""
    selector = selector_labels(service)
    if service.spec.parallelism.nodes > 1:
        selector[LWS_WORKER_INDEX_LABEL] = LWS_LEADER_INDEX
    return selector


def inference_pool(service: ResolvedService, context: RenderContext) -> dict[str, Any] | None:
    """InferencePool selecting the serving pods, with the endpoint picker that routes to them."""
    routing = service.spec.routing
    if not routing.inference_pool:
        return None
    return {
        "apiVersion": f"{INFERENCE_GROUP}/v1",
        "kind": "InferencePool",
        "metadata": metadata(service, context),
        "spec": {
            "selector": {"matchLabels": serving_selector(service)},
            "targetPorts": [{"number": service.spec.service.port}],
            "endpointPickerRef": {"name": routing.endpoint_picker, "port": {"number": routing.endpoint_picker_port},
                                  "failureMode": routing.failure_mode.value},
        },
    }


def http_route(service: ResolvedService, context: RenderContext) -> dict[str, Any] | None:
    """HTTPRoute from the Gateway to the InferencePool (or the Service)."""
    routing = service.spec.routing
    if routing.gateway is None:
        return None
    parent: dict[str, Any] = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": routing.gateway.name}
    if routing.gateway.namespace:
        parent["namespace"] = routing.gateway.namespace
    if routing.gateway.section_name:
        parent["sectionName"] = routing.gateway.section_name
    pooled = routing.inference_pool or service.spec.disaggregation is not None
    backend: dict[str, Any] = {"group": INFERENCE_GROUP, "kind": "InferencePool", "name": service.name} \
        if pooled else {"name": service.name, "port": service.spec.service.port}
    spec: dict[str, Any] = {
        "parentRefs": [parent],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": routing.path_prefix}}],
                   "backendRefs": [backend]}],
    }
    if routing.hostnames:
        spec["hostnames"] = list(routing.hostnames)
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": metadata(service, context), "spec": spec}
