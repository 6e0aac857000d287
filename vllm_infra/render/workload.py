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
    KUEUE_QUEUE_LABEL,
    LWS_API_VERSION,
    PULUMI_TIMEOUT_ANNOTATION,
    SPARE_GPUS_ANNOTATION,
)
from vllm_infra.vocabulary.reporting import IMAGE_PINNING_RULE, LORA_RULE, MODEL_PINNING_RULE, TRUST_REMOTE_CODE_RULE
from vllm_infra.vocabulary.waivers import trusted_code_subject, waiver_annotation

ROLLOUT_DEADLINE_MARGIN = 120


def workload_annotations(service: ResolvedService) -> dict[str, str]:
    """Model provenance, the await budget tools should honour (large models load for long), the
    spare GPUs the rollout may surge into and, for remote code, why it is trusted."""
    annotations = {
        MODEL_ANNOTATION: f"{service.spec.model.id}@{service.spec.model.revision}",
        PULUMI_TIMEOUT_ANNOTATION: str(service.await_budget),
    }
    if service.spare_gpus:
        annotations[SPARE_GPUS_ANNOTATION] = str(service.spare_gpus)
    model = service.spec.model
    if model.trust_remote_code_reason:
        key, value = waiver_annotation(TRUST_REMOTE_CODE_RULE, (trusted_code_subject(model.id, model.revision),),
                                       model.trust_remote_code_reason)
        annotations[key] = value
    loading = service.spec.loading
    if loading.uri and loading.unpinned_reason:
        key, value = waiver_annotation(MODEL_PINNING_RULE, (loading.uri,), loading.unpinned_reason)
        annotations[key] = value
    lora = service.spec.lora
    if lora is not None and lora.runtime_loading_reason:
        key, value = waiver_annotation(LORA_RULE, (RUNTIME_LORA_ENV,), lora.runtime_loading_reason)
        annotations[key] = value
    unpinned = [(service.spec.image.reference, service.spec.image.unpinned_reason)]
    if service.spec.role == PdRole.DECODE and service.spec.pair is not None:
        router = service.spec.pair.router
        unpinned.append((router.sidecar.reference(router.release), router.sidecar.unpinned_reason))
    waived = [(image, reason) for image, reason in unpinned if reason]
    if waived:
        reasons = " ".join(dict.fromkeys(reason for _image, reason in waived if reason))
        key, value = waiver_annotation(IMAGE_PINNING_RULE, tuple(image for image, _reason in waived), reasons)
        annotations[key] = value
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


def leader_worker_set(service: ResolvedService, context: RenderContext) -> dict[str, Any]:
    """LeaderWorkerSet: each replica is a group of ``parallelism.nodes`` pods that restart
    together; the leader serves the API, workers run the rest of the model (vLLM's own multi-node
    executor, or Ray on releases without it).
    Workers start as soon as the leader exists (LeaderCreated): the leader only turns ready once
    they have joined."""
    selector = selector_labels(service)
    spec: dict[str, Any] = {
        "startupPolicy": "LeaderCreated",
        "rolloutStrategy": {"type": "RollingUpdate", "rollingUpdateConfiguration": {
            "maxSurge": service.max_surge, "maxUnavailable": service.max_unavailable}},
        "leaderWorkerTemplate": {
            "size": service.spec.parallelism.nodes,
            "restartPolicy": "RecreateGroupOnPodRestart",
            "leaderTemplate": pod_template(service, context, selector, PodRole.LEADER),
            "workerTemplate": pod_template(service, context, selector, PodRole.WORKER),
        },
    }
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
