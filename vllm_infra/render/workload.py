"""The workload: a Deployment for single-node replicas, a LeaderWorkerSet for multi-node ones."""

from __future__ import annotations

from typing import Any

from vllm_infra.catalog.vllm import RUNTIME_LORA_ENV
from vllm_infra.render.context import RenderContext
from vllm_infra.render.labels import MODEL_ANNOTATION, metadata, selector_labels
from vllm_infra.render.pod import PodRole, pod_template
from vllm_infra.spec.availability import RolloutStrategy
from vllm_infra.spec.disaggregation import PdRole
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.vocabulary.kubernetes import (
    DISAGGREGATED_SET,
    DISAGGREGATED_SET_API_VERSION,
    KUEUE_QUEUE_LABEL,
    LWS_API_VERSION,
    PULUMI_TIMEOUT_ANNOTATION,
    SPARE_GPUS_ANNOTATION,
)
from vllm_infra.vocabulary.reporting import IMAGE_PINNING_RULE, LORA_RULE, MODEL_PINNING_RULE, TRUST_REMOTE_CODE_RULE
from vllm_infra.vocabulary.waivers import trusted_code_subject, waiver_annotation

ROLLOUT_DEADLINE_MARGIN = 120


Waiver = tuple[str, tuple[str, ...], str]
"""(rule, what it accepts, reason)."""


def _waivers(service: ResolvedService) -> list[Waiver]:
    """What the service's own declarations waive: remote code it trusts, an object-store model it
    cannot pin, runtime LoRA loading, and each image without a digest."""
    waivers: list[Waiver] = []
    model = service.spec.model
    if model.trust_remote_code_reason:
        waivers.append((TRUST_REMOTE_CODE_RULE, (trusted_code_subject(model.id, model.revision),),
                        model.trust_remote_code_reason))
    loading = service.spec.loading
    if loading.uri and loading.unpinned_reason:
        waivers.append((MODEL_PINNING_RULE, (loading.uri,), loading.unpinned_reason))
    lora = service.spec.lora
    if lora is not None and lora.runtime_loading_reason:
        waivers.append((LORA_RULE, (RUNTIME_LORA_ENV,), lora.runtime_loading_reason))
    unpinned = [(service.spec.image.reference, service.spec.image.unpinned_reason)]
    if service.spec.role == PdRole.DECODE and service.spec.pair is not None:
        router = service.spec.pair.router
        unpinned.append((router.sidecar.reference(router.release), router.sidecar.unpinned_reason))
    waivers += [(IMAGE_PINNING_RULE, (image,), reason) for image, reason in unpinned if reason]
    return waivers


def _merged(waivers: list[Waiver]) -> dict[str, str]:
    """One annotation per rule: every value its waivers accept, their distinct reasons joined."""
    accepted: dict[str, dict[str, None]] = {}
    reasons: dict[str, dict[str, None]] = {}
    for rule, accepts, reason in waivers:
        accepted.setdefault(rule, {}).update(dict.fromkeys(accepts))
        reasons.setdefault(rule, {})[reason] = None
    return dict(waiver_annotation(rule, tuple(accepted[rule]), " ".join(reasons[rule])) for rule in accepted)


def workload_annotations(*services: ResolvedService) -> dict[str, str]:
    """Model provenance, the await budget tools should honour (large models load for long), the
    spare GPUs the rollout may surge into (of a single service) and, for remote code, unpinned
    images and models, why they are accepted; for the roles of one DisaggregatedSet, their union."""
    first = services[0]
    annotations = {
        MODEL_ANNOTATION: f"{first.spec.model.id}@{first.spec.model.revision}",
        PULUMI_TIMEOUT_ANNOTATION: str(max(service.await_budget for service in services)),
    }
    if len(services) == 1 and first.spare_gpus:
        annotations[SPARE_GPUS_ANNOTATION] = str(first.spare_gpus)
    annotations.update(_merged([waiver for service in services for waiver in _waivers(service)]))
    return annotations


def _strategy(service: ResolvedService) -> dict[str, Any]:
    rollout = service.spec.availability.rollout
    if rollout.strategy == RolloutStrategy.RECREATE:
        return {"type": "Recreate"}
    return {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": service.max_surge, "maxUnavailable": service.max_unavailable}}


def _metadata(service: ResolvedService, context: RenderContext) -> dict[str, Any]:
    """The workload's metadata, with the Kueue queue its pods are admitted through."""
    meta = metadata(service, context, annotations=workload_annotations(service))
    if context.queue:
        meta["labels"][KUEUE_QUEUE_LABEL] = context.queue
    return meta


def deployment(service: ResolvedService, context: RenderContext) -> dict[str, Any]:
    """Deployment; ``spec.replicas`` is left to the autoscaler when one is configured."""
    selector = selector_labels(service)
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector},
        "strategy": _strategy(service),
        "progressDeadlineSeconds": service.await_budget + ROLLOUT_DEADLINE_MARGIN,
        "template": pod_template(service, context, selector, PodRole.SERVER),
    }
    if service.spec.autoscaling is None:
        spec["replicas"] = service.spec.availability.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(service, context),
        "spec": spec,
    }


def _group_spec(service: ResolvedService, context: RenderContext) -> dict[str, Any]:
    """A LeaderWorkerSet's spec: each replica is a group of ``parallelism.nodes`` pods that restart
    together; the leader serves the API, workers run the rest of the model (vLLM's own multi-node
    executor, or Ray on releases without it). Workers start as soon as the leader exists
    (LeaderCreated): the leader only turns ready once they have joined. A single-node group (a
    DisaggregatedSet role's) is one server pod."""
    selector = selector_labels(service)
    rollout = {"type": "RollingUpdate", "rollingUpdateConfiguration": {
        "maxSurge": service.max_surge, "maxUnavailable": service.max_unavailable}}
    if service.spec.parallelism.nodes == 1:
        return {"rolloutStrategy": rollout, "leaderWorkerTemplate": {
            "size": 1, "workerTemplate": pod_template(service, context, selector, PodRole.SERVER)}}
    return {
        "startupPolicy": "LeaderCreated",
        "rolloutStrategy": rollout,
        "leaderWorkerTemplate": {
            "size": service.spec.parallelism.nodes,
            "restartPolicy": "RecreateGroupOnPodRestart",
            "leaderTemplate": pod_template(service, context, selector, PodRole.LEADER),
            "workerTemplate": pod_template(service, context, selector, PodRole.WORKER),
        },
    }


def leader_worker_set(service: ResolvedService, context: RenderContext) -> dict[str, Any]:
    """LeaderWorkerSet of a multi-node service (see ``_group_spec``)."""
    spec = _group_spec(service, context)
    if service.spec.autoscaling is None:
        spec["replicas"] = service.spec.availability.replicas
    return {
        "apiVersion": LWS_API_VERSION,
        "kind": "LeaderWorkerSet",
        "metadata": _metadata(service, context),
        "spec": spec,
    }


def workload(service: ResolvedService, context: RenderContext) -> dict[str, Any]:
    """The workload kind the parallelism needs."""
    return leader_worker_set(service, context) if service.spec.parallelism.nodes > 1 else deployment(service, context)


def disaggregated_set(service: ResolvedService, roles: tuple[ResolvedService, ...],
                      context: RenderContext) -> dict[str, Any]:
    """One LWS DisaggregatedSet for the roles of a disaggregated service: its controller creates a
    LeaderWorkerSet per role and slice (``<set>-<slice>-<revision>-<role>``) with the role's labels (the Kueue queue
    among them) and annotations, and rolls the roles out together within each one's surge. The
    waivers of both roles go on the set, where policy reads them."""
    assert service.spec.disaggregation is not None
    entries = []
    for role in roles:
        assert role.spec.role is not None
        spec = _group_spec(role, context)
        spec["replicas"] = getattr(service.spec.disaggregation, role.spec.role.value).replicas  # per slice
        role_meta = {"labels": _metadata(role, context)["labels"]}
        if role.spare_gpus:
            role_meta["annotations"] = {SPARE_GPUS_ANNOTATION: str(role.spare_gpus)}
        entries.append({"name": role.spec.role.value, "metadata": role_meta, "spec": spec})
    return {
        "apiVersion": DISAGGREGATED_SET_API_VERSION,
        "kind": DISAGGREGATED_SET[1],
        "metadata": metadata(service, context, annotations=workload_annotations(*roles)),
        "spec": {"roles": entries, **({"slices": slices} if (slices := service.spec.disaggregation.slices) > 1
                                      else {})},
    }
