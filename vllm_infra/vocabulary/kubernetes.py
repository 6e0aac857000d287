"""Kubernetes facts in one place: the pinned API version, the order objects are applied in, the
workload kinds, the labels controllers add, the annotations vllm-infra reads and how
int-or-percent fields resolve."""

from __future__ import annotations

import math
from collections.abc import Mapping

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

SERVING_KINDS = frozenset({"Deployment", "StatefulSet", "LeaderWorkerSet"})
"""Workloads that can serve a model behind a Service (what a PDB and an autoscaler target)."""

WORKLOAD_KINDS = SERVING_KINDS | {"DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
"""Built-in kinds that run pods."""

LWS_API_VERSION = "leaderworkerset.x-k8s.io/v1"
LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
LWS_WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"
"""Labels the LeaderWorkerSet controller puts on every pod; worker-index "0" is the leader."""
LWS_LEADER_INDEX = "0"

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Label the API server puts on every Namespace (its own name), used by namespaceSelectors."""

HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"
ZONE_TOPOLOGY = "topology.kubernetes.io/zone"

INT32_MAX = 2**31 - 1
"""Upper bound of the API's int32 fields (replicas, probe timings, ports...)."""

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


def object_sort_key(obj: Mapping[str, object]) -> tuple[int, str, str, str]:
    """Stable order: by kind rank, then namespace and name (unknown kinds last, by kind)."""
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata")
    name = namespace = ""
    if isinstance(meta, Mapping):
        name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
    return KIND_ORDER.get(kind, len(KIND_ORDER)), kind, namespace, name


def scaled_int_or_percent(value: int | str, total: int, *, round_up: bool) -> int:
    """An IntOrString such as ``maxSurge: 25%`` as a pod count of ``total``. Kubernetes rounds
    surge up and unavailability down; raises ValueError on anything else than ``N`` or ``N%``."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer or percentage")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        share = total * int(text[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(text)
