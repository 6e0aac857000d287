"""The routing control plane of a disaggregated service: its InferencePool over both roles, llm-d's
endpoint picker (identity, RBAC, configuration, Deployment, Service, NetworkPolicy), the
InferenceObjectives clients pick a priority with, and the HTTPRoute from the Gateway. Names,
ports, flags and plugins are those of the pinned llm-d release (``catalog.router``)."""

from __future__ import annotations

from typing import Any

from vllm_infra.catalog.router import (
    EPP_CONFIG_API_VERSION,
    EPP_CONFIG_PATH,
    EPP_GRPC_PORT,
    EPP_HEALTH_PORT,
    EPP_METRICS_PORT,
    LORA_AFFINITY_SCORER,
    OBJECTIVE_API_VERSION,
    PD_DECIDER,
    PD_DECIDER_UNCACHED_TOKENS,
    ROUTER_RELEASES,
    RouterFacts,
)
from vllm_infra.render.context import RenderContext
from vllm_infra.render.labels import metadata
from vllm_infra.render.routing import INFERENCE_GROUP
from vllm_infra.serialization.emitter import dump
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.vocabulary.kubernetes import INSTANCE_LABEL, POOL_LABEL, SERVICE_LABEL
from vllm_infra.vocabulary.reporting import IMAGE_PINNING_RULE
from vllm_infra.vocabulary.waivers import waiver_annotation

EPP_COMPONENT = "endpoint-picker"
EXT_PROC_SERVICE = "envoy.service.ext_proc.v3.ExternalProcessor"
EPP_RESOURCES = {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
EPP_USER = 65532
"""The user the llm-d images run as (``USER 65532:65532`` in their Dockerfiles)."""
EPP_GRACE_SECONDS = 130
"""The release's own grace period: in-flight picks finish before the gateway fails over."""
_NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def picker_name(service: ResolvedService) -> str:
    """Name of the endpoint picker's objects."""
    return f"{service.name}-epp"


def _picker_labels(service: ResolvedService) -> dict[str, str]:
    return {SERVICE_LABEL: picker_name(service)}


def _picker_metadata(service: ResolvedService, context: RenderContext,
                     annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta = metadata(service, context, name=picker_name(service), annotations=annotations)
    meta["labels"].update({**_picker_labels(service), INSTANCE_LABEL: picker_name(service),
                           "app.kubernetes.io/component": EPP_COMPONENT})
    return meta


def pair_pool(service: ResolvedService, context: RenderContext) -> dict[str, Any]:
    """InferencePool over the serving pods of both roles, routed by the pair's endpoint picker."""
    routing = service.spec.routing
    return {
        "apiVersion": f"{INFERENCE_GROUP}/v1",
        "kind": "InferencePool",
        "metadata": metadata(service, context),
        "spec": {
            "selector": {"matchLabels": {POOL_LABEL: service.name}},
            "targetPorts": [{"number": service.spec.service.port}],
            "endpointPickerRef": {"name": picker_name(service), "port": {"number": EPP_GRPC_PORT},
                                  "failureMode": routing.failure_mode.value},
        },
    }


def picker_config(facts: RouterFacts, service_port: int, *, adapters: bool = False) -> dict[str, Any]:
    """The EndpointPickerConfig of a P/D pool: prefill and decode profiles, each filtered to its
    role, scored on prefix-cache hits and queue depth (and, when the pods serve LoRA adapters, on
    having the requested adapter loaded); remote prefill when enough is uncached."""
    handler: dict[str, Any] = {"type": facts.profile_handler, "parameters": (
        {"deciders": {"prefill": PD_DECIDER}} if facts.decider_by_role else
        {"primaryPort": service_port, "deciderPluginName": PD_DECIDER})}
    profile = [{"pluginRef": "max-score-picker"}, {"pluginRef": "prefix-cache-scorer", "weight": 2},
               {"pluginRef": "queue-scorer", "weight": 1}]
    lora = [{"type": LORA_AFFINITY_SCORER}] if adapters else []
    profile += [{"pluginRef": LORA_AFFINITY_SCORER, "weight": 1}] if adapters else []
    return {
        "apiVersion": EPP_CONFIG_API_VERSION,
        "kind": "EndpointPickerConfig",
        "featureGates": ["prepareDataPlugins"],
        "plugins": [
            {"type": facts.headers_handler},
            {"type": "prefix-cache-scorer", "parameters": {"maxPrefixBlocksToMatch": 256,
                                                           "lruCapacityPerServer": 31250}},
            {"type": "queue-scorer"},
            *lora,
            {"type": "prefill-filter"},
            {"type": "decode-filter"},
            {"type": "max-score-picker"},
            {"type": PD_DECIDER, "parameters": {"nonCachedTokens": PD_DECIDER_UNCACHED_TOKENS}},
            handler,
        ],
        "schedulingProfiles": [{"name": "prefill", "plugins": [{"pluginRef": "prefill-filter"}, *profile]},
                               {"name": "decode", "plugins": [{"pluginRef": "decode-filter"}, *profile]}],
    }


def _picker_deployment(service: ResolvedService, context: RenderContext) -> dict[str, Any]:
    assert service.spec.disaggregation is not None
    router = service.spec.disaggregation.router
    image = router.endpoint_picker.reference(router.release)
    annotations = dict([waiver_annotation(IMAGE_PINNING_RULE, (image,), router.endpoint_picker.unpinned_reason)]) \
        if router.endpoint_picker.unpinned_reason else None
    probe = {"grpc": {"port": EPP_HEALTH_PORT, "service": EXT_PROC_SERVICE}, "periodSeconds": 10,
             "failureThreshold": 3}
    container = {
        "name": "epp",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--pool-name", service.name, "--pool-namespace", context.namespace, "--config-file",
                 EPP_CONFIG_PATH, "--grpc-port", str(EPP_GRPC_PORT), "--grpc-health-port", str(EPP_HEALTH_PORT),
                 "--zap-encoder", "json"],
        "ports": [{"name": "grpc", "containerPort": EPP_GRPC_PORT, "protocol": "TCP"},
                  {"name": "grpc-health", "containerPort": EPP_HEALTH_PORT, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": EPP_METRICS_PORT, "protocol": "TCP"}],
        "readinessProbe": probe,
        "livenessProbe": probe,
        "resources": EPP_RESOURCES,
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "config", "mountPath": EPP_CONFIG_PATH.rsplit("/", 1)[0], "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
    pod: dict[str, Any] = {
        "serviceAccountName": picker_name(service),
        "automountServiceAccountToken": True,  # it watches pods and InferencePools
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": EPP_GRACE_SECONDS,
        "securityContext": {"runAsNonRoot": True, "runAsUser": EPP_USER, "runAsGroup": EPP_USER,
                            "fsGroup": EPP_USER, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "config", "configMap": {"name": picker_name(service)}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
    }
    if service.spec.scheduling.priority_class:
        pod["priorityClassName"] = service.spec.scheduling.priority_class
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _picker_metadata(service, context, annotations),
            "spec": {"replicas": 1, "selector": {"matchLabels": _picker_labels(service)},
                     "template": {"metadata": {"labels": _picker_metadata(service, context)["labels"]}, "spec": pod}}}


def _picker_rbac(service: ResolvedService, context: RenderContext) -> list[dict[str, Any]]:
    """What the picker reads (the release's ``rbac.yaml``): pods, pools, objectives; token and
    access reviews guard its metrics endpoint."""
    read = ["get", "watch", "list"]
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": _picker_metadata(service, context), "rules": [
                {"apiGroups": ["inference.networking.x-k8s.io"],
                 "resources": ["inferencepools", "inferenceobjectives", "inferencemodelrewrites"], "verbs": read},
                {"apiGroups": [INFERENCE_GROUP], "resources": ["inferencepools"], "verbs": read},
                {"apiGroups": [""], "resources": ["pods"], "verbs": read},
                {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
                {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
            ]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": _picker_metadata(service, context),
               "subjects": [{"kind": "ServiceAccount", "name": picker_name(service), "namespace": context.namespace}],
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": picker_name(service)}}
    return [role, binding]


def _picker_network_policy(service: ResolvedService, context: RenderContext) -> dict[str, Any]:
    """gRPC from the gateway's namespaces, metrics from monitoring; out to DNS, the API server and
    the pool's pods (their metrics, on the API port)."""
    policy = service.spec.network_policy

    def namespaces(names: list[str]) -> list[dict[str, Any]]:
        return [{"namespaceSelector": {"matchExpressions": [
            {"key": _NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(set(names))}]}}]

    ingress: list[dict[str, Any]] = [{"from": namespaces([context.namespace, *policy.api_client_namespaces]),
                                      "ports": [{"port": EPP_GRPC_PORT, "protocol": "TCP"}]}]
    if policy.metrics_namespaces:
        ingress.append({"from": namespaces(policy.metrics_namespaces),
                        "ports": [{"port": EPP_METRICS_PORT, "protocol": "TCP"}]})
    egress = [
        {"to": [{"namespaceSelector": {"matchLabels": {_NAMESPACE_NAME_LABEL: "kube-system"}},
                 "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]},  # the API server
        {"to": [{"podSelector": {"matchLabels": {POOL_LABEL: service.name}}}],
         "ports": [{"port": service.spec.service.port, "protocol": "TCP"}]},
    ]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _picker_metadata(service, context),
            "spec": {"podSelector": {"matchLabels": _picker_labels(service)}, "policyTypes": ["Ingress", "Egress"],
                     "ingress": ingress, "egress": egress}}


def router_objects(service: ResolvedService, context: RenderContext) -> list[dict[str, Any]]:
    """Every object of the pair's routing control plane (the HTTPRoute is the service's own)."""
    assert service.spec.disaggregation is not None
    router = service.spec.disaggregation.router
    facts = ROUTER_RELEASES[router.release]
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _picker_metadata(service, context),
              "data": {EPP_CONFIG_PATH.rsplit("/", 1)[1]: dump(picker_config(
                  facts, service.spec.service.port, adapters=bool(service.spec.lora and service.spec.lora.adapters)))}}
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _picker_metadata(service, context),
               "automountServiceAccountToken": True}
    picker_service = {
        "apiVersion": "v1", "kind": "Service", "metadata": _picker_metadata(service, context),
        "spec": {"type": "ClusterIP", "selector": _picker_labels(service), "ports": [
            {"name": "grpc", "port": EPP_GRPC_PORT, "targetPort": "grpc", "protocol": "TCP", "appProtocol": "http2"},
            {"name": "metrics", "port": EPP_METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}]}}
    objectives = [{"apiVersion": OBJECTIVE_API_VERSION, "kind": "InferenceObjective",
                   "metadata": metadata(service, context, name=name),
                   "spec": {"priority": priority, "poolRef": {"group": INFERENCE_GROUP, "name": service.name}}}
                  for name, priority in sorted(router.objectives.items())]
    objects = [account, *_picker_rbac(service, context), config, _picker_deployment(service, context),
               picker_service, pair_pool(service, context), *objectives]
    if service.spec.network_policy.enabled:
        objects.append(_picker_network_policy(service, context))
    return objects

