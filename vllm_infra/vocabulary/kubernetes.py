"""Kubernetes facts in one place: the pinned API version, the order objects are applied in, the
workload kinds, the labels controllers add, the annotations vllm-infra reads and how
int-or-percent fields resolve."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

KUBERNETES_VERSION = "1.33"
"""Kubernetes minor version manifests are rendered for and validated against by default."""

SUPPORTED_KUBERNETES_VERSIONS = tuple(f"1.{minor}" for minor in range(25, 38))
"""Versions whose schemas ship with kubernetes-validate (1.25-1.37)."""

IMAGE_VOLUMES_ON_BY_DEFAULT = "1.35"
"""First Kubernetes release whose ImageVolume feature gate is on by default (beta, KEP-4639; alpha in
1.31, beta but off in 1.33 and 1.34). With the gate off the API server drops ``volumes[].image``
and refuses the pod, whose volume then has no source."""


def minor_version(version: str) -> int:
    """The minor number of a ``1.N`` Kubernetes version."""
    return int(version.split(".")[1])

PULUMI_ANNOTATION_PREFIX = "pulumi.com/"
"""Annotations pulumi-kubernetes reads; their presence marks an object Pulumi manages."""

PULUMI_TIMEOUT_ANNOTATION = "pulumi.com/timeoutSeconds"
"""Await budget pulumi-kubernetes honours for a workload (seconds)."""

PULUMI_SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"

INSTANCE_LABEL = "app.kubernetes.io/instance"
"""Recommended label; Argo CD's label tracking (its default before 3.0) overwrites it with the
Application name on every object it manages, so nothing should select on it."""

SERVICE_LABEL = "vllm-infra.io/service"
"""What every rendered selector uses: a label no delivery tool rewrites."""

IMMUTABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "StatefulSet": ("spec.selector", "spec.serviceName", "spec.volumeClaimTemplates", "spec.podManagementPolicy"),
    "Job": ("spec.selector", "spec.template", "spec.completionMode"),
    "PersistentVolumeClaim": ("spec.accessModes", "spec.storageClassName", "spec.volumeMode", "spec.volumeName",
                              "spec.selector", "spec.dataSource"),
    "Service": ("spec.clusterIP", "spec.clusterIPs", "spec.ipFamilies"),
}
"""Fields the API server refuses to update: a change means deleting and recreating the object
(``kubectl apply`` fails with "field is immutable"; Pulumi and Argo CD with Replace=true replace it).
PersistentVolumeClaims may only grow ``resources.requests.storage``."""

SPARE_GPUS_ANNOTATION = "vllm-infra.io/spare-gpus"
"""GPUs of the workload's type free in the cluster for a rollout to surge into."""

WAIVER_ANNOTATION_PREFIX = "vllm-infra.io/waive."
"""``vllm-infra.io/waive.<rule-id>: "<reason>"`` waives one rule on one object."""

SERVING_KINDS = frozenset({"Deployment", "StatefulSet", "LeaderWorkerSet"})
"""Workloads that can serve a model behind a Service (what a PDB and an autoscaler target)."""

BUILT_IN_WORKLOAD_KINDS = SERVING_KINDS | {"DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
"""Built-in kinds that run pods."""


@dataclass(frozen=True)
class PodTemplateSite:
    """Where an operator's custom resource holds a pod template, and what its controller adds.

    ``path`` steps through the object; ``*`` is every item of a list. ``wrapped`` means a
    PodTemplateSpec (``metadata`` + ``spec``) rather than a bare PodSpec."""

    path: tuple[str, ...]
    wrapped: bool = True
    role: str = "pod"
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels the controller puts on the pods."""
    name_label: str | None = None
    """Label the controller sets to the custom resource's name."""
    template: bool = False
    """A template other resources instantiate, not pods that run as written (KServe runtimes,
    OpenShift Templates)."""


def _ray_groups(*cluster: str, name_label: str | None = None) -> tuple[PodTemplateSite, ...]:
    """KubeRay's head and worker groups under ``cluster``; the operator labels their pods
    ray.io/node-type, ray.io/group ("headgroup" for the head) and ray.io/cluster
    (ray-operator/controllers/ray/common/pod.go, ``labelPod``)."""
    return (PodTemplateSite((*cluster, "headGroupSpec", "template"), role="head", name_label=name_label,
                            labels={"ray.io/node-type": "head", "ray.io/group": "headgroup"}),
            PodTemplateSite((*cluster, "workerGroupSpecs", "*", "template"), role="worker", name_label=name_label,
                            labels={"ray.io/node-type": "worker"}))


_KSERVE_RUNTIME = (PodTemplateSite(("spec",), wrapped=False, template=True),
                   PodTemplateSite(("spec", "workerSpec"), wrapped=False, role="worker", template=True))
"""KServe (serving.kserve.io) runtimes embed PodSpec fields directly; an InferenceService
instantiates them with its model, resources and GPUs."""

CUSTOM_POD_TEMPLATES: dict[tuple[str, str], tuple[PodTemplateSite, ...]] = {
    ("argoproj.io", "Rollout"): (PodTemplateSite(("spec", "template")),),  # a Deployment-shaped template
    ("ray.io", "RayCluster"): _ray_groups("spec", name_label="ray.io/cluster"),
    ("ray.io", "RayService"): _ray_groups("spec", "rayClusterConfig"),  # the cluster's name is generated
    ("ray.io", "RayJob"): _ray_groups("spec", "rayClusterSpec"),
    ("orchestration.aibrix.ai", "RayClusterFleet"): _ray_groups("spec", "template", "spec"),
    ("template.openshift.io", "Template"): (
        PodTemplateSite(("objects", "*", "spec", "template"), template=True),
        PodTemplateSite(("objects", "*", "spec", "jobTemplate", "spec", "template"), template=True)),
    ("serving.kserve.io", "ServingRuntime"): _KSERVE_RUNTIME,
    ("serving.kserve.io", "ClusterServingRuntime"): _KSERVE_RUNTIME,
    ("serving.kserve.io", "InferenceService"): (
        PodTemplateSite(("spec", "predictor"), wrapped=False),
        PodTemplateSite(("spec", "predictor", "workerSpec"), wrapped=False, role="worker")),
    ("serving.kserve.io", "LLMInferenceService"): (
        PodTemplateSite(("spec", "template"), wrapped=False),
        PodTemplateSite(("spec", "worker"), wrapped=False, role="worker"),
        PodTemplateSite(("spec", "prefill", "template"), wrapped=False, role="prefill"),
        PodTemplateSite(("spec", "prefill", "worker"), wrapped=False, role="prefill-worker")),
}
"""Pod templates inside custom resources, by (API group, kind), that run vLLM (operators that describe the server in
their own fields, such as KubeAI's Model or production-stack's VLLMRuntime, have none)."""

DISAGGREGATED_SET = ("disaggregatedset.x-k8s.io", "DisaggregatedSet")
"""LWS's prefill/decode set: one LeaderWorkerSet per role (``spec.roles[i].spec``)."""
DISAGGREGATED_SET_API_VERSION = "disaggregatedset.x-k8s.io/v1"
"""Served by the LWS controller from v0.9.0 (kubernetes-sigs/lws ``api/disaggregatedset/v1``)."""
DISAGGREGATED_SET_NAME_LABEL = "disaggregatedset.x-k8s.io/name"
DISAGGREGATED_SET_ROLE_LABEL = "disaggregatedset.x-k8s.io/role"
DISAGGREGATED_SET_SLICE_LABEL = "disaggregatedset.x-k8s.io/slice"
DISAGGREGATED_SET_ROLE_SCALER = "DisaggregatedSetRoleScaler"
"""What a role with ``scaling.mode: External`` is scaled through: ``<set>-<role>``, created by the
controller, with a scale subresource an HPA or ScaledObject targets; the role's ``replicas`` is
then ignored."""
DISAGGREGATED_SET_REVISION_LENGTH = 8
"""Hex characters of the revision hash in each role's LeaderWorkerSet name,
``<set>-<slice>-<revision>-<role>``, whose Service ``<lws>-prv`` the webhook keeps within 63."""


def disaggregated_set_pod_labels(set_name: str, role: str, slice_index: int = 0) -> dict[str, str]:
    """What the DisaggregatedSet controller writes over a role's pod labels (``GenerateLabels``): its
    own ``app`` label replaces the template's. The revision label is a hash of the roles, unknown
    before the controller computes it."""
    return {"app": f"{set_name}-{slice_index}-{role}", DISAGGREGATED_SET_ROLE_LABEL: role,
            DISAGGREGATED_SET_SLICE_LABEL: str(slice_index), DISAGGREGATED_SET_NAME_LABEL: set_name}


def disaggregated_set_name_overflow(set_name: str, role: str, slices: int = 1) -> int:
    """Characters by which the role's generated Service name ``<set>-<slice>-<revision>-<role>-prv``
    exceeds 63 (0 or less: the webhook admits it)."""
    return len(set_name) + 3 + len(str(max(0, slices - 1))) + DISAGGREGATED_SET_REVISION_LENGTH + len(role) + 4 - 63

VLLM_OPERATOR_KINDS = frozenset({
    ("kubeai.org", "Model"), ("production-stack.vllm.ai", "VLLMRuntime"),
    ("serving.kserve.io", "LLMInferenceService"), ("serving.kserve.io", "InferenceService"),
})
"""(API group, kind) of custom resources whose operator runs vLLM from fields of its own."""


def group_kind(obj: Mapping[str, object]) -> tuple[str, str]:
    """(API group, kind): ``apps/v1`` -> ``apps``, core ``v1`` -> ``""``."""
    api_version = str(obj.get("apiVersion", ""))
    return api_version.rpartition("/")[0], str(obj.get("kind", ""))

WORKLOAD_KINDS = BUILT_IN_WORKLOAD_KINDS | {kind for _group, kind in CUSTOM_POD_TEMPLATES} | {DISAGGREGATED_SET[1]}
"""Kinds whose pods the rules inspect."""

DRA_API_VERSION = "resource.k8s.io/v1"
DRA_SINCE = "1.34"
"""Dynamic resource allocation's GA API (ResourceClaimTemplate, DeviceClass), served from Kubernetes
1.34 (v1beta1 in 1.32, v1beta2 in 1.33)."""

KUEUE_API_VERSION = "kueue.x-k8s.io/v1beta2"
"""Kueue's LocalQueue API (v1beta2 from Kueue 0.15; v1beta1 is deprecated)."""
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
"""On a Deployment or LeaderWorkerSet: the LocalQueue its pods are admitted through. Kueue gates
each Deployment pod (a LeaderWorkerSet group as one) until the queue's ClusterQueue has quota for
it; pods beyond the quota stay Pending (Kueue's deployment and leaderworkerset integrations, on by
default from 0.15)."""

LWS_API_VERSION = "leaderworkerset.x-k8s.io/v1"
LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
LWS_WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"
LWS_EXCLUSIVE_TOPOLOGY = "leaderworkerset.sigs.k8s.io/exclusive-topology"
"""LWS annotation: each group gets one domain of this topology key to itself."""
LWS_LEADER_ADDRESS_ENV = "LWS_LEADER_ADDRESS"
"""Set by the LeaderWorkerSet controller in every pod of a group: the leader's address."""
NODE_RANK_ENV = "NODE_RANK"
"""Where vllm-infra puts a worker's rank in its group (from the worker-index label) for
``--node-rank``."""
"""Labels the LeaderWorkerSet controller puts on every pod; worker-index "0" is the leader."""
LWS_LEADER_INDEX = "0"

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "vllm-infra"
"""What vllm-infra writes into ``app.kubernetes.io/managed-by``."""

PROBE_DEFAULTS: Mapping[str, int] = {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1,
                                      "failureThreshold": 3, "successThreshold": 1}
"""What the API server fills in for a probe's unset timings."""

DEFAULT_NAMESPACE = "default"
"""Where kubectl applies an object without ``metadata.namespace`` unless told otherwise."""

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Label the API server puts on every Namespace (its own name), used by namespaceSelectors."""

KUBELET_MAX_PODS = 110
"""kubelet's default ``maxPods``: how many pods a node takes unless its pool says otherwise."""

HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"
ZONE_TOPOLOGY = "topology.kubernetes.io/zone"

INT32_MAX = 2**31 - 1
"""Upper bound of the API's int32 fields (replicas, probe timings, ports...)."""

PD_ROLE_LABEL = "llm-d.ai/role"
"""The role of a pod in a prefill/decode pair (``prefill``, ``decode``), which llm-d's endpoint
picker filters on (``prefill-filter``, ``decode-filter``)."""
PD_MODEL_LABEL = "llm-d.ai/model"
"""The model both roles of an llm-d pair serve (its charts' label)."""
PREFETCH_LABEL = "vllm-infra.io/prefetch"
"""On the pod of a service's prefetch Job: the service whose model it downloads (the Job's pod never
carries the service's selector label)."""
POOL_LABEL = "vllm-infra.io/pool"
"""The InferencePool a pod serves in: both roles of a disaggregated service carry it."""

KIND_ORDER: dict[str, int] = {
    kind: rank
    for rank, kind in enumerate((
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Secret",
        "ConfigMap",
        "PersistentVolumeClaim",
        "ResourceClaimTemplate",
        "LocalQueue",
        "Job",
        "Service",
        "Deployment",
        "StatefulSet",
        "LeaderWorkerSet",
        "DisaggregatedSet",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ScaledObject",
        "ServiceMonitor",
        "PodMonitor",
        "NetworkPolicy",
        "InferencePool",
        "InferenceObjective",
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


_IMAGE_REFERENCE = re.compile(r"^(?P<repo>[^@]+?)(?::(?P<tag>[\w][\w.-]*))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")


def image_parts(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference (a registry port stays in the repository)."""
    match = _IMAGE_REFERENCE.match(image)
    if not match:
        return image, None, None
    return match.group("repo"), match.group("tag"), match.group("digest")


FLOATING_TAG = re.compile(r"^(latest|nightly|main|master|dev|edge|stable|rolling)([-_.](?![0-9a-f]{7,40}$)[\w.-]*)?$")
"""Image tags that move between builds (``latest``, ``nightly``, ``latest-cu128``);
``nightly-<commit>`` names one build."""
