"""Pure rendering: spec -> list of Kubernetes objects (plain dicts, camelCase). No I/O.

``render_fleet`` is what ``vllm-infra synth`` writes and what the Pulumi component registers;
objects come out in a stable apply order (see ``vllm_infra.vocabulary.kubernetes.KIND_ORDER``).
Every renderer receives the service's resolved view, where each default is computed once.
"""

from __future__ import annotations

from vllm_infra.render.autoscaling import autoscaler
from vllm_infra.render.claims import gpu_claim_template
from vllm_infra.render.context import Manifest, RenderContext
from vllm_infra.render.delivery import annotated
from vllm_infra.render.disruption import disruption_budget
from vllm_infra.render.labels import APP_NAME, ENVIRONMENT_LABEL, selector_labels
from vllm_infra.render.loading import prefetch_job
from vllm_infra.render.network import network_policy, prefetch_network_policy
from vllm_infra.render.observability import service_monitor
from vllm_infra.render.patches import PatchError, apply_patches
from vllm_infra.render.router import router_objects
from vllm_infra.render.routing import http_route, inference_pool
from vllm_infra.render.service import cluster_service, model_cache_claim, service_account
from vllm_infra.render.workload import disaggregated_set, workload
from vllm_infra.spec.disaggregation import PdWorkload
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.spec.service import VllmServiceSpec
from vllm_infra.vocabulary.kubernetes import (
    INSTANCE_LABEL,
    KUEUE_API_VERSION,
    LWS_LEADER_INDEX,
    LWS_NAME_LABEL,
    LWS_WORKER_INDEX_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    object_sort_key,
)
from vllm_infra.vocabulary.profiles import POD_SECURITY_LABEL_PREFIX, POD_SECURITY_MODES
from vllm_infra.vocabulary.progress import Advance, ignore

__all__ = ["Manifest", "PatchError", "RenderContext", "fleet_context", "render_fleet", "render_local_queue",
           "render_namespace", "render_service"]


def _serving_objects(service: ResolvedService, context: RenderContext,
                     runner: Manifest | None = None) -> list[Manifest]:
    """The objects of one set of serving pods: identity, storage and its prefetch Job, Service,
    workload, disruption budget, autoscaler, monitor and NetworkPolicies. ``runner`` is the role's
    part of a DisaggregatedSet, which renders in place of the role's own workload."""
    multi_node = service.spec.parallelism.nodes > 1
    own = runner is None
    group = runner or workload(service, context)
    if multi_node or not own:
        group_template = group["spec"]["leaderWorkerTemplate"]
        server_pod = group_template.get("leaderTemplate", group_template["workerTemplate"])["spec"]
    else:
        server_pod = group["spec"]["template"]["spec"]
    # a DisaggregatedSet names its groups after a revision hash: group peers are the role's pods
    peers = (({LWS_NAME_LABEL: service.name} if own else selector_labels(service)) if multi_node else None)
    candidates = [
        service_account(service, context),
        model_cache_claim(service, context),
        gpu_claim_template(service, context),
        prefetch_job(service, context, server_pod),
        cluster_service(service, context, {LWS_WORKER_INDEX_LABEL: LWS_LEADER_INDEX} if multi_node else None),
        group if own else None,
        disruption_budget(service, context),
        autoscaler(service, context, group) if own else None,
        service_monitor(service, context),
        network_policy(service, context, peers),
        prefetch_network_policy(service, context),
    ]
    return [obj for obj in candidates if obj is not None]


def _disaggregated_objects(spec: VllmServiceSpec, context: RenderContext) -> list[Manifest]:
    """Both roles' objects: each role's own workload, or one DisaggregatedSet over both."""
    assert spec.disaggregation is not None
    roles = tuple(unit.resolved for unit in spec.units)
    if spec.disaggregation.workload != PdWorkload.DISAGGREGATED_SET:
        return [obj for role in roles for obj in _serving_objects(role, context)]
    pd_set = disaggregated_set(spec.resolved, roles, context)
    return [pd_set, *(obj for role, entry in zip(roles, pd_set["spec"]["roles"], strict=True)
                      for obj in _serving_objects(role, context, entry))]


def render_service(spec: VllmServiceSpec, context: RenderContext) -> list[Manifest]:
    """Every object of one model server, patches applied, in apply order: for a disaggregated
    service, both roles' objects, the pool over them and its endpoint picker."""
    service = spec.resolved
    candidates: list[Manifest | None]
    if spec.disaggregation is not None:
        candidates = [*_disaggregated_objects(spec, context), *router_objects(service, context)]
    else:
        candidates = [*_serving_objects(service, context), inference_pool(service, context)]
    candidates.append(http_route(service, context))
    objects = [annotated(obj) for obj in candidates if obj is not None]
    return sorted(apply_patches(service, objects), key=object_sort_key)


def render_namespace(fleet: FleetSpec) -> Manifest:
    """Namespace enforcing a Pod Security Standards level."""
    level = fleet.namespace.pod_security.value
    return annotated({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": fleet.namespace.name,
            "labels": {
                "app.kubernetes.io/part-of": fleet.name,
                MANAGED_BY_LABEL: MANAGED_BY,
                ENVIRONMENT_LABEL: fleet.environment,
                **{f"{POD_SECURITY_LABEL_PREFIX}{mode}": level for mode in POD_SECURITY_MODES},
            },
        },
    })


def render_local_queue(fleet: FleetSpec) -> Manifest | None:
    """The Kueue LocalQueue of the fleet's namespace, pointing to its ClusterQueue (None without a
    queue, or one managed elsewhere); its version label is the newest vLLM release it admits."""
    queue = fleet.queue
    if queue is None or not queue.create:
        return None
    newest = max(unit.resolved.vllm_version for service in fleet.services for unit in service.units)
    labels = {"app.kubernetes.io/name": APP_NAME, INSTANCE_LABEL: queue.name, "app.kubernetes.io/version": str(newest),
              "app.kubernetes.io/component": "admission", "app.kubernetes.io/part-of": fleet.name,
              MANAGED_BY_LABEL: MANAGED_BY, ENVIRONMENT_LABEL: fleet.environment}
    return annotated({
        "apiVersion": KUEUE_API_VERSION,
        "kind": "LocalQueue",
        "metadata": {"name": queue.name, "namespace": fleet.namespace.name, "labels": labels},
        "spec": {"clusterQueue": queue.cluster_queue},
    })


def fleet_context(fleet: FleetSpec) -> RenderContext:
    """What every service of the fleet is rendered with."""
    return RenderContext(namespace=fleet.namespace.name, part_of=fleet.name, environment=fleet.environment,
                         kubernetes_version=fleet.kubernetes_version, queue=fleet.queue.name if fleet.queue else None)


def render_fleet(fleet: FleetSpec, advance: Advance = ignore) -> list[Manifest]:
    """Every object of a fleet in apply order; ``advance`` counts services rendered."""
    context = fleet_context(fleet)
    objects = [render_namespace(fleet)] if fleet.namespace.create else []
    queue = render_local_queue(fleet)
    if queue:
        objects.append(queue)
    for service in fleet.services:
        objects += render_service(service, context)
        advance(1)
    return sorted(objects, key=object_sort_key)
