"""Exposure and traffic: Service types, wiring between Services, pods and monitors, NetworkPolicies."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from vllm_infra.catalog.vllm import VLLM_SETTINGS
from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.reading.objects import Manifest, as_list, dig, labels_match, name_of, namespace_of
from vllm_infra.checker.reading.server import (
    api_ports,
    is_operator_resource,
    is_vllm_workload,
    serving_container,
)
from vllm_infra.checker.reading.templates import PodTemplate, declared_ports, running_containers
from vllm_infra.checker.rules.base import RuleContext, Violation, bundle_rule, resource_rule
from vllm_infra.vocabulary.gateway import hostnames_compete
from vllm_infra.vocabulary.kubernetes import DISAGGREGATED_SET
from vllm_infra.vocabulary.paths import FieldPath
from vllm_infra.vocabulary.reporting import Severity


def _pods(role: str) -> str:
    return "pods" if role == "pod" else f"{role} pods"


def policies_by_template(bundle: Bundle) -> dict[int, list[Manifest]]:
    """id(PodTemplate) -> NetworkPolicies selecting its pods (an empty podSelector selects all)."""
    found: dict[int, list[Manifest]] = {}
    for policy in bundle.of_kind("NetworkPolicy"):
        selector = dig(policy, "spec", "podSelector")
        entries = bundle.templates_in(namespace_of(policy)) if selector == {} else \
            bundle.templates_selected(namespace_of(policy), selector)
        for _obj, template in entries:
            found.setdefault(id(template), []).append(policy)
    return found


def _open_rule(entry: Mapping[str, Any], peers_key: str) -> bool:
    """An ingress/egress rule with no peers and no ports admits everything."""
    return not entry.get(peers_key) and not entry.get("ports")


@bundle_rule(
    "VI-NET-001", Severity.HIGH, "A NetworkPolicy isolates every vLLM pod (ingress and egress)",
    "Render a NetworkPolicy selecting the vLLM pods with policyTypes [Ingress, Egress]: API only from the "
    "gateway/app namespaces, metrics only from monitoring, egress only DNS and model downloads.",
    rationale=("Without a NetworkPolicy every pod in the cluster can call the model server and reach "
               "anything from it."),
    example="# a Deployment running vllm serve and no NetworkPolicy selecting its pods")
def network_isolation(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    selecting = policies_by_template(bundle)
    for obj in bundle.objects:
        if not is_vllm_workload(obj):
            continue
        for template in bundle.templates_of(obj):
            policies = selecting.get(id(template), [])
            types = {t for policy in policies for t in dig(policy, "spec", "policyTypes", default=[]) or []}
            missing = sorted({"Ingress", "Egress"} - types)
            if missing:
                yield Violation((*template.path[:-1], "metadata", "labels"),
                                f"{_pods(template.role)} are not isolated for {' and '.join(missing)} by any "
                                "NetworkPolicy", obj=obj)
            for policy in policies:
                for key, peers in (("ingress", "from"), ("egress", "to")):
                    for index, entry in enumerate(dig(policy, "spec", key, default=[]) or []):
                        if _open_rule(entry, peers):
                            yield Violation(("spec", key, index), f"NetworkPolicy rule {key}[{index}] allows "
                                            f"all {'sources' if key == 'ingress' else 'destinations'}", obj=policy)


@resource_rule(
    "VI-NET-002", Severity.HIGH, "Services are ClusterIP only",
    "Use type ClusterIP and reach the model through a gateway; waive a reviewed LoadBalancer/NodePort with "
    "vllm-infra.io/waive.VI-NET-002: \"accepts=LoadBalancer; <reason>\".",
    kinds={"Service"},
    rationale="A LoadBalancer or NodePort exposes the unauthenticated inference API beyond the cluster.",
    example="kind: Service\nspec: {type: LoadBalancer}")
def cluster_ip_only(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    service_type = dig(obj, "spec", "type", default="ClusterIP")
    if service_type != "ClusterIP":
        yield Violation(("spec", "type"), f"Service type {service_type} exposes the inference API outside the "
                                          "cluster", subject=str(service_type))
    if dig(obj, "spec", "externalIPs"):
        yield Violation(("spec", "externalIPs"), "Service sets externalIPs",
                        subject=",".join(map(str, as_list(dig(obj, "spec", "externalIPs")))))


def _target_ports(service: Manifest, matched: list[PodTemplate]) -> Iterator[Violation]:
    names, numbers = set(), set()
    for template in matched:
        template_names, template_numbers = declared_ports(running_containers(template.spec))
        names |= template_names
        numbers |= template_numbers
    serving = [serving_container(template) for template in matched]
    listening = {port for ref in serving if ref is not None for port in api_ports(ref.spec)}
    for index, port in enumerate(dig(service, "spec", "ports", default=[]) or []):
        if not isinstance(port, Mapping):
            continue
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, str) and not target.isdigit() and target not in names:
            yield Violation(("spec", "ports", index, "targetPort"),
                            f"targetPort {target!r} is not a port name of the selected containers", obj=service)
        elif type(target) is int and target not in numbers | listening and None not in serving:
            yield Violation(("spec", "ports", index, "targetPort"),
                            f"targetPort {target} is not declared by the selected containers and vLLM listens on "
                            f"{', '.join(str(p) for p in sorted(p for p in listening if type(p) is int))}: "
                            "nothing listens there", obj=service)


@bundle_rule(
    "VI-NET-003", Severity.HIGH, "Services select pods and target their ports; ServiceMonitors select Services",
    "Make the Service selector match the pod template labels and targetPort name a container port; make the "
    "ServiceMonitor selector match the Service and its endpoint port name a Service port.",
    rationale=("A Service whose selector or target port matches no pod routes nowhere; a ServiceMonitor "
               "that selects no Service scrapes nothing, and the autoscaler loses its metric."),
    example=("kind: Service\n"
             "spec:\n"
             "  selector: {app: llama}\n"
             "  ports: [{port: 8000, targetPort: http}]   # the container names no port http"))
def service_wiring(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    # where operators label pods beyond their templates, an unmatched selector proves nothing
    operated = {namespace_of(obj) for obj in bundle.objects if is_operator_resource(obj)}
    for service in bundle.of_kind("Service"):
        selector = dig(service, "spec", "selector")
        if not selector:
            continue
        matched = [t for _obj, t in bundle.templates_selected(namespace_of(service), selector)]
        if matched:
            yield from _target_ports(service, matched)
        elif namespace_of(service) not in operated:
            yield Violation(("spec", "selector"), "Service selects no pods in the manifests", obj=service)
    for monitor in bundle.of_kind("ServiceMonitor"):
        selector = dig(monitor, "spec", "selector") or {}
        namespaces = dig(monitor, "spec", "namespaceSelector", "matchNames") or [namespace_of(monitor)]
        services = [s for ns in namespaces for s in bundle.services_selected(ns, selector)]
        if not services:
            yield Violation(("spec", "selector"), "ServiceMonitor selects no Service in the manifests", obj=monitor)
            continue
        port_names = {p.get("name") for s in services for p in dig(s, "spec", "ports", default=[]) or []}
        for index, endpoint in enumerate(dig(monitor, "spec", "endpoints", default=[]) or []):
            if endpoint.get("port") and endpoint["port"] not in port_names:
                yield Violation(("spec", "endpoints", index, "port"),
                                f"endpoint port {endpoint['port']!r} is not a port of the selected Service",
                                obj=monitor)


def injected_variables(service_name: str) -> tuple[str, ...]:
    """What a Service injects into every pod of its namespace with service links on (the kubelet's
    Docker-links variables): ``<NAME>_SERVICE_HOST``, ``<NAME>_SERVICE_PORT`` and ``<NAME>_PORT``."""
    prefix = service_name.upper().replace("-", "_")
    return (f"{prefix}_SERVICE_HOST", f"{prefix}_SERVICE_PORT", f"{prefix}_PORT")


@bundle_rule(
    "VI-NET-004", Severity.HIGH, "No Service injects a variable vLLM reads as its own setting",
    "Set enableServiceLinks: false on the vLLM pods, or rename the Service: a Service named vllm injects "
    "VLLM_PORT=tcp://<ip>:<port>, which vLLM parses as its own port setting and refuses to start.", gpu=True,
    rationale=("With service links on (the default), the kubelet gives every pod <NAME>_PORT=tcp://<ip>:<port> "
               "for each Service of its namespace; vLLM reads VLLM_* variables as settings, and VLLM_PORT must be "
               "a number, so a Service named vllm makes every vLLM pod beside it exit at start."),
    example="kind: Service\nmetadata: {name: vllm}   # in the namespace of a Deployment running vllm serve")
def no_service_links(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    for service in bundle.of_kind("Service"):
        colliding = sorted(set(injected_variables(name_of(service))) & VLLM_SETTINGS)
        if not colliding:
            continue
        for workload, template in bundle.templates_in(namespace_of(service)):
            if template.spec.get("enableServiceLinks") is not False and serving_container(template) is not None:
                yield Violation((*template.path, "enableServiceLinks"), f"Service {name_of(service)} injects "
                                f"{', '.join(colliding)} into this vLLM pod (service links are on), which vLLM reads "
                                "as its own setting and rejects at start", obj=workload)


@bundle_rule(
    "VI-NET-005", Severity.MEDIUM, "Multi-node groups may talk to each other on any port",
    "Add a NetworkPolicy rule allowing all ports between pods of the same LeaderWorkerSet or multi-node "
    "DisaggregatedSet role (Ray and NCCL use dynamic ports).", gpu=True,
    rationale=("Ray and NCCL open dynamic ports between the pods of a group; a policy that allows only the"
               " API port breaks the group."),
    example="kind: NetworkPolicy   # selecting LeaderWorkerSet pods, ingress only on port 8000")
def lws_group_traffic(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    selecting = policies_by_template(bundle)
    for lws in bundle.of_kind("LeaderWorkerSet", DISAGGREGATED_SET[1]):
        for template in bundle.templates_of(lws):
            if lws.get("kind") != "LeaderWorkerSet" and template.size == 1:
                continue  # a DisaggregatedSet's single-pod role has no group peers
            labels = template.labels  # with the group labels its controller adds
            policies = selecting.get(id(template), [])
            if not policies:
                continue
            for key, peers in (("ingress", "from"), ("egress", "to")):
                allowed = any(not entry.get("ports") and any(
                    labels_match(dig(peer, "podSelector"), labels) and "namespaceSelector" not in peer
                    for peer in entry.get(peers) or [])
                    for policy in policies for entry in dig(policy, "spec", key, default=[]) or [])
                types = {t for p in policies for t in dig(p, "spec", "policyTypes", default=[]) or []}
                if key.capitalize() in types and not allowed:
                    yield Violation((*template.path[:-1], "metadata", "labels"),
                                    f"{_pods(template.role)} may not reach group peers on all ports ({key})", obj=lws)



@bundle_rule(
    "VI-NET-006", Severity.HIGH, "Routing references line up: InferencePool, HTTPRoute, endpoint picker",
    "Make the InferencePool select the serving pods and target their API port, point HTTPRoute backendRefs at "
    "objects that exist, and keep the endpoint picker's port consistent.", gpu=True,
    rationale=("An InferencePool that selects no pods, a route to a backend that does not exist or an "
               "endpoint picker on the wrong port make the gateway answer with errors."),
    example=("kind: HTTPRoute\n"
             "spec:\n"
             "  rules: [{backendRefs: [{kind: InferencePool, name: llama-pool}]}]   # no such pool"))
def routing_references(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    for pool in bundle.of_kind("InferencePool"):
        namespace = namespace_of(pool)
        matched = bundle.templates_selected(namespace, dig(pool, "spec", "selector", "matchLabels"))
        if not matched:
            yield Violation(("spec", "selector"), "InferencePool selects no pods in the manifests", obj=pool)
        elif any(t.role == "worker" for _o, t in matched):
            yield Violation(("spec", "selector"), "InferencePool also selects multi-node worker pods, which do not "
                                                  "serve requests", obj=pool)
        numbers = {n for _o, t in matched for n in declared_ports(running_containers(t.spec))[1]}
        for index, port in enumerate(dig(pool, "spec", "targetPorts", default=[]) or []):
            if matched and port.get("number") not in numbers:
                yield Violation(("spec", "targetPorts", index, "number"),
                                f"target port {port.get('number')} is not a port of the selected pods", obj=pool)
        picker = dig(pool, "spec", "endpointPickerRef", default={}) or {}
        service = bundle.find("Service", str(picker.get("name")), namespace)
        if service is not None:
            ports = {p.get("port") for p in dig(service, "spec", "ports", default=[]) or []}
            if dig(picker, "port", "number") not in ports:
                yield Violation(("spec", "endpointPickerRef", "port"), f"endpoint picker Service "
                                f"{picker.get('name')} has no port {dig(picker, 'port', 'number')}", obj=pool)
    for route in bundle.of_kind("HTTPRoute"):
        for r_index, route_rule in enumerate(dig(route, "spec", "rules", default=[]) or []):
            for b_index, backend in enumerate(route_rule.get("backendRefs") or []):
                kind = backend.get("kind", "Service")
                namespace = backend.get("namespace", namespace_of(route))
                target = bundle.find(kind, str(backend.get("name")), namespace)
                path = ("spec", "rules", r_index, "backendRefs", b_index)
                if target is None:
                    yield Violation(path, f"backendRef {kind}/{backend.get('name')} is not in the manifests", obj=route)
                elif kind == "Service" and backend.get("port") not in {
                        p.get("port") for p in dig(target, "spec", "ports", default=[]) or []}:
                    yield Violation(path, f"Service {backend.get('name')} has no port {backend.get('port')}",
                                    obj=route)


def _parent_keys(route: Manifest) -> list[tuple[str, str, str]]:
    """(gateway namespace, name, listener) of each Gateway the route attaches to."""
    keys = []
    for parent in as_list(dig(route, "spec", "parentRefs")):
        if type(parent) is dict and parent.get("kind", "Gateway") == "Gateway":
            keys.append((str(parent.get("namespace") or namespace_of(route)), str(parent.get("name")),
                         str(parent.get("sectionName") or "")))
    return keys


def _matches(route: Manifest) -> list[tuple[FieldPath, str]]:
    """(path to the match, the match written canonically) of every rule of the route."""
    found: list[tuple[FieldPath, str]] = []
    for r_index, route_rule in enumerate(as_list(dig(route, "spec", "rules"))):
        matches = as_list(route_rule.get("matches")) if type(route_rule) is dict else []
        for m_index, match in enumerate(matches or [{}]):
            if type(match) is not dict:
                continue
            written = match.get("path")
            path: dict[str, Any] = written if type(written) is dict else {}
            canonical = json.dumps({**match, "path": {"type": path.get("type", "PathPrefix"),
                                                      "value": path.get("value", "/")}}, sort_keys=True)
            found.append((("spec", "rules", r_index, "matches", m_index) if matches else ("spec", "rules", r_index),
                          canonical))
    return found


@bundle_rule(
    "VI-NET-007", Severity.HIGH, "No two HTTPRoutes on one Gateway claim the same requests",
    "Give each route its own hostname or path prefix (routing.hostnames, routing.path_prefix): between equal "
    "matches the Gateway sends every request to the oldest route, and the other model is never reached.",
    rationale=("Between equally specific matches the Gateway sends every request to the oldest route: the "
               "other model is never reached and nothing reports it."),
    example=("# HTTPRoutes llama and qwen, both on Gateway llm-gateway with PathPrefix / and no hostnames"))
def routes_do_not_collide(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    claimed: dict[tuple[tuple[str, str, str], str], list[tuple[Manifest, list[str]]]] = {}
    for route in bundle.of_kind("HTTPRoute"):
        hostnames = [str(name) for name in as_list(dig(route, "spec", "hostnames"))]
        for parent in _parent_keys(route):
            for path, match in _matches(route):
                for other, other_hostnames in claimed.get((parent, match), []):
                    if other is not route and hostnames_compete(hostnames, other_hostnames):
                        described = json.loads(match)["path"]
                        yield Violation(path, f"claims the same requests as HTTPRoute {dig(other, 'metadata', 'name')} "
                                              f"on Gateway {parent[0]}/{parent[1]} ({described['type']} "
                                              f"{described['value']}, equally specific hostnames): only one of them is "
                                              "used", obj=route)
                claimed.setdefault((parent, match), []).append((route, hostnames))
