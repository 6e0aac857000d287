"""The llm-d inference scheduler releases vllm-infra renders: its endpoint picker (EPP), the P/D
routing sidecar it ships (``cmd/pd-sidecar``), and the plugin names of its EndpointPickerConfig,
as each release's ``deploy/`` tree and flag definitions name them (llm-d/llm-d-inference-scheduler,
tags v0.5.1 to v0.8.0)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

EPP_IMAGE = "ghcr.io/llm-d/llm-d-inference-scheduler"
SIDECAR_IMAGE = "ghcr.io/llm-d/llm-d-routing-sidecar"
EPP_CONFIG_API_VERSION = "inference.networking.x-k8s.io/v1alpha1"
"""``EndpointPickerConfig``'s apiVersion in every release below (later main moved it to llm-d.ai)."""
EPP_GRPC_PORT = 9002
"""ext-proc gRPC port the gateway calls (the InferencePool's ``endpointPickerRef`` port)."""
EPP_HEALTH_PORT = 9003
"""gRPC health port (``envoy.service.ext_proc.v3.ExternalProcessor``)."""
EPP_METRICS_PORT = 9090
EPP_CONFIG_PATH = "/etc/epp/epp-config.yaml"
SIDECAR_CONNECTOR = "nixlv2"
"""The sidecar's protocol for vLLM's NixlConnector."""
OBJECTIVE_API_VERSION = "inference.networking.x-k8s.io/v1alpha2"
"""``InferenceObjective``'s apiVersion (the scheduler's ``apix/v1alpha2``)."""


class RouterRelease(StrEnum):
    """Scheduler releases whose P/D configuration is known (``deploy/config/pd-epp-config.yaml``)."""

    V0_6_1 = "v0.6.1"
    V0_7_1 = "v0.7.1"
    V0_8_0 = "v0.8.0"


@dataclass(frozen=True)
class RouterFacts:
    """What one release calls things."""

    headers_handler: str
    """Plugin that tells the decode sidecar which prefill pod to use."""
    profile_handler: str
    """Plugin that runs the prefill and decode scheduling profiles."""
    decider_by_role: bool
    """The handler names its decider per role (``deciders: {prefill: ...}``, from v0.7) rather than
    as ``deciderPluginName`` beside the ``primaryPort`` (v0.6)."""
    sidecar_connector_flag: str
    """The sidecar flag that names the connector protocol (``--connector`` deprecated in v0.7)."""


LORA_AFFINITY_SCORER = "lora-affinity-scorer"
"""Gateway API Inference Extension's scorer that prefers pods with the requested adapter loaded (from
their ``vllm:lora_requests_info``); the GIE runner registers it (GIE v1.2-v1.5), which the releases
below build their endpoint picker on (v0.7.1 on GIE v1.4.0, v0.8.0 on v1.5.0)."""

PD_DECIDER = "prefix-based-pd-decider"
"""Sends a request to remote prefill when more than ``nonCachedTokens`` of it are not cached."""
PD_DECIDER_UNCACHED_TOKENS = 16
"""The releases' sample threshold."""

ROUTER_RELEASES: MappingProxyType[RouterRelease, RouterFacts] = MappingProxyType({
    RouterRelease.V0_6_1: RouterFacts("prefill-header-handler", "pd-profile-handler", False, "--connector"),
    RouterRelease.V0_7_1: RouterFacts("disagg-headers-handler", "disagg-profile-handler", True, "--kv-connector"),
    RouterRelease.V0_8_0: RouterFacts("disagg-headers-handler", "disagg-profile-handler", True, "--kv-connector"),
})
