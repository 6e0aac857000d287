"""Prometheus Operator ServiceMonitor for vLLM's ``/metrics``."""

from __future__ import annotations

from typing import Any

from vllm_infra.render.context import RenderContext
from vllm_infra.render.labels import metadata, selector_labels
from vllm_infra.render.pod import METRICS_PATH, PORT_NAME
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.vocabulary.units import format_duration


def service_monitor(service: ResolvedService, context: RenderContext) -> dict[str, Any] | None:
    """ServiceMonitor selecting this service's Service, or None when not requested."""
    metrics = service.spec.metrics
    if not metrics.service_monitor:
        return None
    meta = metadata(service, context)
    meta["labels"].update(metrics.service_monitor_labels)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": selector_labels(service)},
            "namespaceSelector": {"matchNames": [context.namespace]},
            "endpoints": [{"port": PORT_NAME, "path": METRICS_PATH,
                           "interval": format_duration(metrics.scrape_interval)}],
        },
    }
