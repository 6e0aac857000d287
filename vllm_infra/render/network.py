"""Default-deny NetworkPolicies: API only from declared namespaces, metrics only from monitoring,
egress only DNS and, when the pod downloads weights or adapters or streams them, HTTPS; the prefetch
Job's pod takes no traffic and reaches only DNS and HTTPS."""

from __future__ import annotations

import copy
from typing import Any

from vllm_infra.render.context import RenderContext
from vllm_infra.render.disaggregation import pair_peers
from vllm_infra.render.labels import metadata, selector_labels
from vllm_infra.render.loading import prefetch_labels, prefetch_name
from vllm_infra.render.pod import PORT_NAME
from vllm_infra.spec.loading import LoadingStrategy
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.vocabulary.kubernetes import NAMESPACE_NAME_LABEL, PREFETCH_LABEL

_DNS = {"to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
_HTTPS = {"ports": [{"port": 443, "protocol": "TCP"}]}


def _from_namespaces(names: list[str]) -> list[dict[str, Any]]:
    return [{"namespaceSelector": {"matchExpressions": [
        {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(set(names))}]}}]


def network_policy(service: ResolvedService, context: RenderContext,
                   group_peers: dict[str, str] | None = None) -> dict[str, Any] | None:
    """NetworkPolicy for the service's pods; ``group_peers`` selects pods of the same multi-node
    group, which talk to each other on any port (Ray, NCCL); the roles of a disaggregated service
    reach each other on any port too (the sidecar's prefill request, NIXL's side channel and the
    transfer ports UCX picks)."""
    policy = service.spec.network_policy
    if not policy.enabled:
        return None
    api_port = [{"port": PORT_NAME, "protocol": "TCP"}]
    ingress: list[dict[str, Any]] = [
        {"from": _from_namespaces([context.namespace, *policy.api_client_namespaces]), "ports": api_port},
    ]
    if policy.metrics_namespaces:
        ingress.append({"from": _from_namespaces(policy.metrics_namespaces), "ports": api_port})
    egress: list[dict[str, Any]] = [copy.deepcopy(_DNS)]
    if service.reaches_internet_at_start:
        egress.append(copy.deepcopy(_HTTPS))
    for peers in ([group_peers] if group_peers else [], pair_peers(service)):
        if peers:
            peer = [{"podSelector": {"matchLabels": labels}} for labels in peers]
            ingress.append({"from": peer})
            egress.append({"to": peer})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(service, context),
        "spec": {"podSelector": {"matchLabels": selector_labels(service)},
                 "policyTypes": ["Ingress", "Egress"], "ingress": ingress, "egress": egress},
    }


def prefetch_network_policy(service: ResolvedService, context: RenderContext) -> dict[str, Any] | None:
    """NetworkPolicy for the prefetch Job's pod (None without a Job, or without NetworkPolicies)."""
    if service.strategy != LoadingStrategy.PREFETCH or not service.spec.network_policy.enabled:
        return None
    labels = prefetch_labels(service, context, prefetch_name(service))
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": prefetch_name(service), "namespace": context.namespace, "labels": labels},
        "spec": {"podSelector": {"matchLabels": {PREFETCH_LABEL: service.name}}, "policyTypes": ["Ingress", "Egress"],
                 "ingress": [], "egress": [copy.deepcopy(_DNS), copy.deepcopy(_HTTPS)]},
    }
