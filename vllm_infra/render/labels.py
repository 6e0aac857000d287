"""Recommended ``app.kubernetes.io/*`` labels, and the one label selectors use: ``vllm-infra.io/service``,
which never changes, never collides between two services in one namespace, and is left alone by
Argo CD label tracking (which rewrites ``app.kubernetes.io/instance``) and Helm-style tooling."""

from __future__ import annotations

from typing import Any

from vllm_infra.render.context import RenderContext
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.vocabulary.kubernetes import INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL, SERVICE_LABEL

APP_NAME = "vllm"
ENVIRONMENT_LABEL = "vllm-infra.io/environment"
ROLE_LABEL = "vllm-infra.io/role"
MODEL_ANNOTATION = "vllm-infra.io/model"


def selector_labels(service: ResolvedService) -> dict[str, str]:
    """Immutable labels that select this service's pods (and its Services, for ServiceMonitors)."""
    return selector_labels_of(service.name)


def selector_labels_of(name: str) -> dict[str, str]:
    """The selector labels of the service called ``name``."""
    return {SERVICE_LABEL: name}


def common_labels(service: ResolvedService, context: RenderContext) -> dict[str, str]:
    """Labels on every object of the service."""
    labels = {
        "app.kubernetes.io/name": APP_NAME,
        INSTANCE_LABEL: service.name,
        **selector_labels(service),
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/part-of": context.part_of,
        MANAGED_BY_LABEL: MANAGED_BY,
        "app.kubernetes.io/version": str(service.vllm_version),
    }
    if context.environment:
        labels[ENVIRONMENT_LABEL] = context.environment
    return labels


def metadata(service: ResolvedService, context: RenderContext, name: str | None = None,
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """``metadata`` of a namespaced object of the service."""
    meta: dict[str, Any] = {
        "name": name or service.name,
        "namespace": context.namespace,
        "labels": common_labels(service, context),
    }
    if annotations:
        meta["annotations"] = annotations
    return meta
