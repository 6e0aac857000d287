"""Kubernetes facts in one place: the pinned API version, the order objects are applied in, the
annotations vllm-infra reads, and how a field path is written."""

from __future__ import annotations

KUBERNETES_VERSION = "1.33"
"""Kubernetes minor version manifests are rendered for and validated against by default."""

SUPPORTED_KUBERNETES_VERSIONS = tuple(f"1.{minor}" for minor in range(25, 38))
"""Versions whose schemas ship with kubernetes-validate (1.25-1.37)."""

PULUMI_TIMEOUT_ANNOTATION = "pulumi.com/timeoutSeconds"
"""Await budget pulumi-kubernetes honours for a workload (seconds)."""

PULUMI_SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"

SPARE_GPUS_ANNOTATION = "vllm-infra.io/spare-gpus"
"""GPUs of the workload's type free in the cluster for a rollout to surge into."""

WAIVER_ANNOTATION_PREFIX = "vllm-infra.io/waive."
"""``vllm-infra.io/waive.<rule-id>: "<reason>"`` waives one rule on one object."""

KIND_ORDER: dict[str, int] = {
    kind: rank
    for rank, kind in enumerate((
        "Namespace",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "PersistentVolumeClaim",
        "Service",
        "Deployment",
        "StatefulSet",
        "LeaderWorkerSet",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ScaledObject",
        "ServiceMonitor",
        "PodMonitor",
        "NetworkPolicy",
        "InferencePool",
        "HTTPRoute",
    ))
}
"""Apply order: dependencies (namespace, identity, storage) before workloads, policies after."""


def object_sort_key(obj: dict[str, object]) -> tuple[int, str, str, str]:
    """Stable order: by kind rank, then namespace and name (unknown kinds last, by kind)."""
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata")
    name = namespace = ""
    if isinstance(meta, dict):
        name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
    return KIND_ORDER.get(kind, len(KIND_ORDER)), kind, namespace, name


def format_path(parts: tuple[str | int, ...] | list[str | int]) -> str:
    """``('spec', 'containers', 0, 'name')`` -> ``spec.containers[0].name``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
