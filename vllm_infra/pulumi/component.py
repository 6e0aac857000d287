"""``VllmService`` and ``VllmFleet`` components: thin shells around the pure renderer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from vllm_infra.pulumi.resources import kubernetes_resource
from vllm_infra.render import (
    Manifest,
    RenderContext,
    fleet_context,
    render_local_queue,
    render_namespace,
    render_service,
)
from vllm_infra.render.labels import selector_labels
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.spec.service import VllmServiceSpec
from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION, SERVING_KINDS

SERVICE_TYPE = "vllm-infra:kubernetes:VllmService"
FLEET_TYPE = "vllm-infra:kubernetes:VllmFleet"


@dataclass(frozen=True)
class VllmServiceArgs:
    """Inputs of a VllmService: the validated spec and where it is rendered."""

    spec: VllmServiceSpec
    namespace: str
    part_of: str = "vllm"
    environment: str | None = None
    kubernetes_version: str = KUBERNETES_VERSION
    """The cluster's Kubernetes minor version (what it serves, such as image volumes)."""
    queue: str | None = None
    """The Kueue LocalQueue the workloads are admitted through."""


@dataclass(frozen=True)
class VllmFleetArgs:
    """Inputs of a VllmFleet: a validated fleet (namespace, services, environment)."""

    fleet: FleetSpec


def child_options(spec: VllmServiceSpec, obj: Manifest, parent: pulumi.Resource) -> pulumi.ResourceOptions:
    """Per-object options: parented to the component; the workload keeps its replica count away
    from ``pulumi up`` when an autoscaler owns it, and waits as long as the model may load."""
    if obj["kind"] not in SERVING_KINDS:
        return pulumi.ResourceOptions(parent=parent)
    unit = next((unit for unit in spec.units if unit.name == obj["metadata"]["name"]), spec)
    budget = f"{unit.resolved.await_budget}s"
    return pulumi.ResourceOptions(
        parent=parent,
        ignore_changes=["spec.replicas"] if unit.autoscaling else None,
        custom_timeouts=pulumi.CustomTimeouts(create=budget, update=budget),
    )


def _roles(objects: list[Manifest]) -> list[str]:
    """``deployment``, ``service``... (suffixed with the object name if a kind repeats)."""
    kinds = [str(obj["kind"]).lower() for obj in objects]
    return [kind if kinds.count(kind) == 1 else f"{kind}-{obj['metadata']['name']}"
            for kind, obj in zip(kinds, objects, strict=True)]


class VllmService(pulumi.ComponentResource):
    """One vLLM model server: registers every object ``render_service`` produces as a child
    named ``f"{name}-<kind>"``. The Kubernetes provider comes through ``opts``."""

    namespace: pulumi.Output[str]
    service_name: pulumi.Output[str]
    url: pulumi.Output[str]
    gpus_per_replica: pulumi.Output[int]
    max_gpus: pulumi.Output[int]

    def __init__(self, name: str, args: VllmServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(SERVICE_TYPE, name, None, opts)
        spec = args.spec
        context = RenderContext(namespace=args.namespace, part_of=args.part_of, environment=args.environment,
                                kubernetes_version=args.kubernetes_version, queue=args.queue)
        objects = render_service(spec, context)
        self.objects: list[Manifest] = objects
        self.children: dict[str, pulumi.CustomResource] = {
            role: kubernetes_resource(f"{name}-{role}", obj, child_options(spec, obj, self))
            for role, obj in zip(_roles(objects), objects, strict=True)
        }
        units = [unit.resolved for unit in spec.units]
        entry = spec.units[-1]  # the decode role of a disaggregated service answers requests
        self.namespace = pulumi.Output.from_input(args.namespace)
        self.service_name = pulumi.Output.from_input(entry.name)
        self.url = pulumi.Output.from_input(
            f"http://{entry.name}.{args.namespace}.svc.cluster.local:{spec.service.port}")
        self.gpus_per_replica = pulumi.Output.from_input(sum(unit.gpus_per_replica for unit in units))
        self.max_gpus = pulumi.Output.from_input(sum(unit.gpus_per_replica * unit.max_scale for unit in units))
        self.register_outputs({"namespace": self.namespace, "service_name": self.service_name, "url": self.url,
                               "gpus_per_replica": self.gpus_per_replica, "max_gpus": self.max_gpus,
                               "selector": selector_labels(entry.resolved)})


class VllmFleet(pulumi.ComponentResource):
    """A whole stack: the namespace (if the fleet creates it) and one VllmService per service."""

    namespace: pulumi.Output[str]
    endpoints: pulumi.Output[dict[str, str]]
    max_gpus: pulumi.Output[int]

    def __init__(self, name: str, args: VllmFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(FLEET_TYPE, name, None, opts)
        fleet = args.fleet
        depends: list[pulumi.Resource] = []
        self.namespace_resource: pulumi.CustomResource | None = None
        if fleet.namespace.create:
            self.namespace_resource = kubernetes_resource(
                f"{name}-namespace", render_namespace(fleet), pulumi.ResourceOptions(parent=self))
            depends.append(self.namespace_resource)
        queue = render_local_queue(fleet)
        self.queue_resource = None if queue is None else kubernetes_resource(
            f"{name}-localqueue", queue, pulumi.ResourceOptions(parent=self, depends_on=list(depends)))
        context = fleet_context(fleet)
        self.services: dict[str, VllmService] = {
            service.name: VllmService(
                service.name,
                VllmServiceArgs(spec=service, namespace=context.namespace, part_of=context.part_of,
                                environment=context.environment, kubernetes_version=context.kubernetes_version,
                                queue=context.queue),
                pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
            for service in fleet.services
        }
        self.namespace = pulumi.Output.from_input(fleet.namespace.name)
        endpoints: dict[str, Any] = {svc_name: svc.url for svc_name, svc in self.services.items()}
        self.endpoints = pulumi.Output.all(**endpoints).apply(dict)
        self.max_gpus = pulumi.Output.all(*(svc.max_gpus for svc in self.services.values())).apply(sum)
        self.register_outputs({"namespace": self.namespace, "endpoints": self.endpoints, "max_gpus": self.max_gpus})
