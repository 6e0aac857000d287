"""What a prefill or decode role adds to its pods: the KV-transfer connector and its side channel,
the labels llm-d's endpoint picker filters on, and on decode pods the routing sidecar that takes
the API port and asks the chosen prefill pod before vLLM decodes."""

from __future__ import annotations

import json
from typing import Any

from vllm_infra.catalog.gpus import NVIDIA_DEVICES_ENV, NVIDIA_NO_DEVICES
from vllm_infra.catalog.router import ROUTER_RELEASES, SIDECAR_CONNECTOR
from vllm_infra.catalog.vllm import NIXL_SIDE_CHANNEL_HOST_ENV, NIXL_SIDE_CHANNEL_PORT_ENV
from vllm_infra.render.labels import selector_labels_of
from vllm_infra.spec.disaggregation import PdRole
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.vocabulary.kubernetes import PD_ROLE_LABEL, POOL_LABEL

SIDECAR_NAME = "routing-sidecar"
SIDE_CHANNEL_PORT_NAME = "nixl"
KV_BOTH = "kv_both"
"""Both roles produce and consume KV (llm-d's NIXL configuration): the decode pod pulls the
prefill pod's blocks, and either can serve a request alone."""
SIDECAR_RESOURCES = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
"""A reverse proxy that forwards each request once: small and memory-bounded."""


def kv_transfer_config() -> str:
    """``--kv-transfer-config`` of both roles."""
    return json.dumps({"kv_connector": "NixlConnector", "kv_role": KV_BOTH}, separators=(",", ":"))


def pair_labels(service: ResolvedService, *, serves: bool = True) -> dict[str, str]:
    """Pod labels of a role: its llm-d role, and on pods that serve requests (not the workers of a
    multi-node group) the pool both roles serve in."""
    if service.spec.role is None or service.pair_name is None:
        return {}
    return {PD_ROLE_LABEL: service.spec.role.value, **({POOL_LABEL: service.pair_name} if serves else {})}


def pair_peers(service: ResolvedService) -> list[dict[str, str]]:
    """Every pod of both roles of this role's pair, workers too, which hold their share of the KV
    cache (none for a service that is not a role)."""
    pair = service.pair_name
    return [] if pair is None else [selector_labels_of(f"{pair}-{role.value}") for role in PdRole]


def _side_channel_port(service: ResolvedService) -> int | None:
    pair = service.spec.pair
    return pair.side_channel_port if pair is not None else None


def side_channel_env(service: ResolvedService) -> list[dict[str, Any]]:
    """Where this engine publishes its KV cache's address: its pod IP and the side-channel port."""
    port = _side_channel_port(service)
    if port is None:
        return []
    return [{"name": NIXL_SIDE_CHANNEL_HOST_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": NIXL_SIDE_CHANNEL_PORT_ENV, "value": str(port)}]


def side_channel_ports(service: ResolvedService) -> list[dict[str, Any]]:
    """The side-channel port, declared so NetworkPolicies and readers see it."""
    port = _side_channel_port(service)
    return [] if port is None else [{"name": SIDE_CHANNEL_PORT_NAME, "containerPort": port, "protocol": "TCP"}]


def routing_sidecar(service: ResolvedService) -> dict[str, Any]:
    """The decode pod's routing sidecar (a native sidecar: an init container that keeps running):
    it listens on the Service port and forwards to vLLM's."""
    assert service.spec.pair is not None
    router = service.spec.pair.router
    facts = ROUTER_RELEASES[router.release]
    env = [{"name": NVIDIA_DEVICES_ENV, "value": NVIDIA_NO_DEVICES}] if service.gpu.vendor == "nvidia" else []
    return {
        "name": SIDECAR_NAME,
        "image": router.sidecar.reference(router.release),
        "imagePullPolicy": "IfNotPresent",
        "restartPolicy": "Always",
        "args": [f"--port={service.spec.service.port}", f"--vllm-port={service.vllm_port}",
                 f"{facts.sidecar_connector_flag}={SIDECAR_CONNECTOR}", "--secure-proxy=false"],
        **({"env": env} if env else {}),
        "ports": [{"name": "http", "containerPort": service.spec.service.port, "protocol": "TCP"}],
        "resources": SIDECAR_RESOURCES,
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
