"""What GitOps controllers need: annotations that order the first sync and protect state (on
every object, whatever the stack's tool, so a tree can move between tools), and the controller
objects of a stack delivered by Argo CD (an ApplicationSet) or Flux (a Kustomization)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from vllm_infra.render.context import Manifest
from vllm_infra.render.labels import APP_NAME
from vllm_infra.spec.delivery import DeliverySpec, DeliveryTool
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.vocabulary.delivery import (
    ARGOCD_API_VERSION,
    ARGOCD_SYNC_OPTIONS,
    ARGOCD_SYNC_WAVE,
    BUILT_IN_WAVE,
    CUSTOM_RESOURCE_WAVE,
    FLUX_KUSTOMIZATION_API_VERSION,
    FLUX_PRUNE,
    FLUX_PRUNE_DISABLED,
    KEEP_ON_PRUNE,
    NAMESPACE_WAVE,
    OPERATOR_KINDS,
    PRUNE_PROTECTED_KINDS,
    SKIP_DRY_RUN,
)
from vllm_infra.vocabulary.kubernetes import INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL, group_kind

IN_CLUSTER = "https://kubernetes.default.svc"
SYNC_RETRY = {"limit": 5, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "10m"}}
"""Argo CD retries a failed sync (an operator still starting) five times over about 10 minutes."""
FLUX_INTERVAL, FLUX_RETRY_INTERVAL, FLUX_TIMEOUT = "10m", "2m", "30m"
DEFAULT_CONTROLLER_NAMESPACE = {DeliveryTool.ARGOCD: "argocd", DeliveryTool.FLUX: "flux-system"}


def delivery_annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    """Sync wave and options for one object: the Namespace first and kept, claims kept (cached
    weights), custom resources last and synced even before their CRD exists."""
    kind = str(obj.get("kind"))
    if kind == "Namespace":
        return {ARGOCD_SYNC_WAVE: NAMESPACE_WAVE, ARGOCD_SYNC_OPTIONS: KEEP_ON_PRUNE, FLUX_PRUNE: FLUX_PRUNE_DISABLED}
    if group_kind(obj) in OPERATOR_KINDS:
        return {ARGOCD_SYNC_WAVE: CUSTOM_RESOURCE_WAVE, ARGOCD_SYNC_OPTIONS: SKIP_DRY_RUN}
    annotations = {ARGOCD_SYNC_WAVE: BUILT_IN_WAVE}
    if kind in PRUNE_PROTECTED_KINDS:
        annotations |= {ARGOCD_SYNC_OPTIONS: KEEP_ON_PRUNE, FLUX_PRUNE: FLUX_PRUNE_DISABLED}
    return annotations


def annotated(obj: Manifest) -> Manifest:
    """``obj`` with its delivery annotations (existing annotations win)."""
    metadata = obj.setdefault("metadata", {})
    metadata["annotations"] = {**delivery_annotations(obj), **(metadata.get("annotations") or {})}
    return obj


def object_name(stack: str) -> str:
    """A DNS label for a stack's controller objects (stack names may hold '_' and '.')."""
    return "vllm-" + re.sub(r"[^a-z0-9-]+", "-", stack.lower()).strip("-")[:57]


def _labels(fleet: FleetSpec, name: str) -> dict[str, str]:
    """Recommended labels; the version of a controller object is the revision it follows."""
    return {"app.kubernetes.io/name": APP_NAME, INSTANCE_LABEL: name, "app.kubernetes.io/component": "delivery",
            "app.kubernetes.io/part-of": fleet.name, MANAGED_BY_LABEL: MANAGED_BY,
            "app.kubernetes.io/version": fleet.delivery.revision.replace("/", "-")[:63].strip("-._") or "head"}


def _application_set(fleet: FleetSpec, delivery: DeliverySpec, name: str, path: str) -> Manifest:
    sync: dict[str, Any] = {
        "syncOptions": [f"CreateNamespace={'false' if fleet.namespace.create else 'true'}", "ServerSideApply=true"],
        "retry": SYNC_RETRY}
    if delivery.automated:
        sync["automated"] = {"prune": True, "selfHeal": True}
    return {
        "apiVersion": ARGOCD_API_VERSION, "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": delivery.controller_namespace or "argocd",
                     "labels": _labels(fleet, name)},
        "spec": {
            "goTemplate": True, "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": [{"environment": fleet.environment, "path": path,
                                                   "namespace": fleet.namespace.name}]}}],
            "template": {
                "metadata": {"name": "vllm-{{.environment}}", "labels": _labels(fleet, name)},
                "spec": {"project": delivery.project,
                         "source": {"repoURL": delivery.repository, "targetRevision": delivery.revision,
                                    "path": "{{.path}}"},
                         "destination": {"server": IN_CLUSTER, "namespace": "{{.namespace}}"},
                         "syncPolicy": sync}}}}


def _flux_kustomization(fleet: FleetSpec, delivery: DeliverySpec, name: str, path: str,
                        objects: Sequence[Mapping[str, Any]]) -> Manifest:
    namespace = delivery.controller_namespace or "flux-system"
    operators = sorted({OPERATOR_KINDS[key] for obj in objects if (key := group_kind(obj)) in OPERATOR_KINDS})
    spec: dict[str, Any] = {"interval": FLUX_INTERVAL, "retryInterval": FLUX_RETRY_INTERVAL, "timeout": FLUX_TIMEOUT,
                            "path": f"./{path}", "prune": True,
                            "sourceRef": {"kind": "GitRepository", "name": delivery.source}}
    if operators:
        spec["dependsOn"] = [{"name": delivery.operators.get(operator, operator)} for operator in operators]
    return {"apiVersion": FLUX_KUSTOMIZATION_API_VERSION, "kind": "Kustomization",
            "metadata": {"name": name, "namespace": namespace, "labels": _labels(fleet, name)}, "spec": spec}


def render_delivery(fleet: FleetSpec, stack: str, objects: Sequence[Mapping[str, Any]],
                    tree: str = "manifests") -> list[Manifest]:
    """The controller objects of a stack delivered by Argo CD or Flux (none for Pulumi)."""
    delivery = fleet.delivery
    name, path = object_name(stack), delivery.path or f"{tree}/{stack}"
    if delivery.tool == DeliveryTool.ARGOCD:
        return [_application_set(fleet, delivery, name, path)]
    if delivery.tool == DeliveryTool.FLUX:
        return [_flux_kustomization(fleet, delivery, name, path, objects)]
    return []
