"""GPU-specific correctness: shared memory, parallelism vs GPUs, placement, memory fraction, rollouts
that can finish without spare GPUs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from vllm_infra.capacity.memory import CUDA_CONTEXT_BYTES
from vllm_infra.catalog.architectures import MODEL_CATALOG
from vllm_infra.catalog.gpus import GPU_MEMORY_LABELS, GPU_RESOURCE_NAMES, NODE_GPU_LABEL_KEYS
from vllm_infra.checker.reading.accelerators import (
    claimed_gpus,
    claims_devices,
    gpu_count,
    pinned_gpus,
    pod_gpus,
    vendor_gpus,
)
from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.reading.objects import Manifest, dig, namespace_of
from vllm_infra.checker.reading.server import args_path, engine_args, vllm_pod_templates
from vllm_infra.checker.reading.templates import containers, group_size
from vllm_infra.checker.rules.base import RuleContext, Violation, bundle_rule, resource_rule
from vllm_infra.checker.rules.simulated import UNVERIFIED, simulated
from vllm_infra.checker.simulation.outcomes import Outcome, Scenario, Verdict
from vllm_infra.vocabulary.kubernetes import (
    DISAGGREGATED_SET,
    SERVING_KINDS,
    SPARE_GPUS_ANNOTATION,
    WORKLOAD_KINDS,
    scaled_int_or_percent,
)
from vllm_infra.vocabulary.limits import GPU_MEMORY_UTILIZATION_MAX
from vllm_infra.vocabulary.reporting import Severity
from vllm_infra.vocabulary.units import format_gib

GPU_NODE_LABEL_KEYS = NODE_GPU_LABEL_KEYS | GPU_MEMORY_LABELS | {"nvidia.com/gpu.present"}
"""Node labels that keep a pod on GPU nodes."""


@resource_rule(
    "VI-GPU-001", Severity.CRITICAL, "Multi-GPU pods mount /dev/shm from a memory emptyDir",
    "Mount an emptyDir {medium: Memory, sizeLimit} at /dev/shm in every GPU container; the default 64MiB "
    "makes NCCL fail.", kinds=WORKLOAD_KINDS, gpu=True,
    rationale=("Tensor and pipeline parallel workers exchange data through /dev/shm; the container default"
               " of 64 MiB makes NCCL fail or hang."),
    example=("args: [--tensor-parallel-size, \"4\"]   # and no emptyDir {medium: Memory} mounted at /dev/shm"))
def shared_memory(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        if engine_args(serving.spec).parallelism.world_size == 1 and template.size == 1:
            continue
        volumes = {v.get("name"): v for v in template.spec.get("volumes") or []}
        for ref in containers(template, include_init=False):
            if not gpu_count(ref.spec) and ref.path != serving.path:
                continue
            mounts = [m for m in ref.spec.get("volumeMounts") or [] if m.get("mountPath") == "/dev/shm"]
            volume = volumes.get(mounts[0].get("name")) if mounts else None
            if volume is None or dig(volume, "emptyDir", "medium") != "Memory":  # unsized: VI-RES-005's concern
                yield Violation((*ref.path, "volumeMounts"), f"container '{ref.spec.get('name')}' has no "
                                "memory-backed /dev/shm (the container runtime's 64 MiB default makes NCCL fail)")


@resource_rule(
    "VI-GPU-002", Severity.CRITICAL, "TP x PP == GPUs per pod x pods per group",
    "Make --tensor-parallel-size x --pipeline-parallel-size equal the GPU limit times the LeaderWorkerSet size "
    "(1 for Deployments).", kinds=SERVING_KINDS | {DISAGGREGATED_SET[1]}, gpu=True,
    rationale=("vLLM needs exactly TP x PP GPUs in its group; more are wasted, fewer make it exit at "
               "start."),
    example="args: [--tensor-parallel-size, \"4\"]\nresources: {limits: {nvidia.com/gpu: 2}}")
def parallelism_matches_gpus(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        size = template.size
        if template.role == "worker":
            continue
        args = engine_args(serving.spec)
        par = args.parallelism
        gpus = gpu_count(serving.spec)
        if gpus and not par.fills(gpus, size):
            group = f" x {size} pods" if size > 1 else ""
            product = "TP x PP" if (par.data or 1) == 1 else "TP x PP x DP"
            yield Violation(args_path(serving), f"{product} = {par.world_size} but the group has {gpus} GPUs per "
                                                f"pod{group} = {gpus * size}")
        arch = MODEL_CATALOG.get(args.repository or "")
        tensor = args.parallelism.tensor or 1
        if arch and arch.attention_heads % tensor:
            yield Violation(args_path(serving), f"--tensor-parallel-size {tensor} does not divide the "
                                                f"{arch.attention_heads} attention heads of {args.model}")


def _tolerates_gpu_taint(spec: Mapping[str, Any]) -> bool:
    for toleration in spec.get("tolerations") or []:
        if toleration.get("operator") == "Exists" and not toleration.get("key"):
            return True
        if toleration.get("key") in GPU_RESOURCE_NAMES and toleration.get("effect") in (None, "", "NoSchedule"):
            return True
    return False


def _targets_gpu_class(spec: Mapping[str, Any]) -> bool:
    if set(spec.get("nodeSelector") or {}) & GPU_NODE_LABEL_KEYS:
        return True
    terms = dig(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                "nodeSelectorTerms", default=[]) or []
    return bool(terms) and all(any(expr.get("key") in GPU_NODE_LABEL_KEYS for expr in term.get("matchExpressions")
                                   or []) for term in terms)


@resource_rule(
    "VI-GPU-003", Severity.HIGH, "GPU pods tolerate the GPU taint and target a GPU class",
    "Tolerate nvidia.com/gpu (or amd.com/gpu) NoSchedule and require the GPU model with a nodeSelector or "
    "required node affinity on a GPU label.", kinds=WORKLOAD_KINDS, gpu=True,
    rationale=("GPU nodes are tainted and come in several models; a pod without the toleration stays "
               "Pending, one without a GPU-model selector lands on a GPU it was not sized for."),
    example=("resources: {limits: {nvidia.com/gpu: 1}}   # no toleration of nvidia.com/gpu, no "
             "nodeSelector on the GPU model"))
def gpu_placement(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        if not gpu_count(serving.spec):
            continue
        if not _tolerates_gpu_taint(template.spec):
            yield Violation((*template.path, "tolerations"), "pod does not tolerate the GPU node taint")
        if not _targets_gpu_class(template.spec):
            yield Violation((*template.path, "affinity"), "pod does not pin the GPU model it was sized for")


@resource_rule(
    "VI-GPU-004", Severity.MEDIUM, "--gpu-memory-utilization leaves each GPU room for the CUDA context",
    "Set --gpu-memory-utilization in (0, 1], low enough that what it leaves of the GPU holds the CUDA context; "
    "VI-CAP-001 checks the room for CUDA graphs for the model at hand.", kinds=WORKLOAD_KINDS,
    gpu=True,
    rationale=("vLLM budgets gpu_memory_utilization x the GPU's memory for weights, activations and KV cache; "
               "the CUDA context of each worker lives outside it, so a value that leaves less than that runs out "
               "of memory whatever the model, and a value outside (0, 1] is refused at start."),
    example="args: [--gpu-memory-utilization, \"0.995\"]")
def memory_fraction(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        args = engine_args(serving.spec)
        value = args.number("gpu-memory-utilization")
        if value is None:
            continue
        if not 0 < value <= GPU_MEMORY_UTILIZATION_MAX:
            yield Violation(args_path(serving), f"--gpu-memory-utilization {value} is outside (0, 1]: vLLM refuses to "
                                                "start", severity=Severity.HIGH)
            continue
        candidates = pinned_gpus(template) or vendor_gpus(serving.spec)
        if not candidates:
            continue
        roomiest = max(candidates, key=lambda gpu: gpu.usable_bytes)
        room = (1 - value) * roomiest.usable_bytes
        if room < CUDA_CONTEXT_BYTES:
            yield Violation(args_path(serving), f"--gpu-memory-utilization {value} leaves {format_gib(room)} of a "
                                                f"{roomiest.type} outside vLLM's budget, less than the CUDA context "
                                                f"of each worker ({format_gib(CUDA_CONTEXT_BYTES)})")


def _rollout(obj: Manifest) -> tuple[str, Any, Any, tuple[str, ...]]:
    if obj.get("kind") == "LeaderWorkerSet":
        config = dig(obj, "spec", "rolloutStrategy", "rollingUpdateConfiguration", default={}) or {}
        return "RollingUpdate", config.get("maxSurge", 0), config.get("maxUnavailable", 1), (
            "spec", "rolloutStrategy")
    strategy = dig(obj, "spec", "strategy", default={}) or {}
    if strategy.get("type") == "Recreate":
        return "Recreate", 0, 0, ("spec", "strategy")
    rolling = strategy.get("rollingUpdate") or {}
    return "RollingUpdate", rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%"), ("spec", "strategy")


@bundle_rule(
    "VI-GPU-005", Severity.CRITICAL, "Rollouts can finish with the GPUs that exist",
    "Without spare GPUs use maxSurge: 0 and maxUnavailable >= 1 (or Recreate); declare spare GPUs with the "
    "vllm-infra.io/spare-gpus annotation before allowing surge.", gpu=True,
    rationale=("A rolling update that surges a GPU replica needs GPUs nobody else holds; without them the "
               "new pod stays Pending and the rollout never finishes."),
    example=("strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}   # on a cluster with no spare "
             "GPUs"))
def rollout_feasible(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    if ctx.simulation is not None:
        yield from simulated(bundle, [o for o in ctx.simulation.of(Scenario.ROLLOUT) if _has_gpus(bundle, o)],
                             ("spec",), {Verdict.DEGRADED: Severity.LOW})
        return
    for obj in bundle.objects:
        if obj.get("kind") not in ("Deployment", "LeaderWorkerSet"):
            continue
        gpus = max((gpu_count(s.spec) for _t, s in vllm_pod_templates(obj)), default=0) * group_size(obj)
        if not gpus:
            continue
        replicas = max(1, bundle.minimum_scale(obj))
        strategy, surge_value, unavailable_value, path = _rollout(obj)
        if strategy == "Recreate":
            continue
        surge = scaled_int_or_percent(surge_value, replicas, round_up=True)
        unavailable = scaled_int_or_percent(unavailable_value, replicas, round_up=False)
        spare = int(dig(obj, "metadata", "annotations", SPARE_GPUS_ANNOTATION, default=0) or 0)
        if surge == 0 and unavailable == 0:
            yield Violation(path, f"maxSurge and maxUnavailable both resolve to 0 at {replicas} replica(s); the "
                                  f"rollout can never start ({UNVERIFIED})", obj=obj)
        elif surge * gpus > spare:
            yield Violation(path, f"maxSurge {surge_value} needs {surge * gpus} spare GPUs during a rollout but "
                                  f"{spare} are declared; the surge pod would stay Pending ({UNVERIFIED})", obj=obj)
        elif replicas == 1 and unavailable >= 1:
            yield Violation(path, f"with 1 replica and no surge, every rollout is a full outage ({UNVERIFIED})",
                            obj=obj, severity=Severity.LOW)


def _has_gpus(bundle: Bundle, outcome: Outcome) -> bool:
    """Whether the outcome's workload requests GPUs (VI-GPU-005's scope)."""
    kind, namespace, name = outcome.workload
    obj = bundle.find(kind, name, namespace)
    return obj is not None and any(gpu_count(s.spec) for _t, s in vllm_pod_templates(obj))


@bundle_rule(
    "VI-GPU-006", Severity.CRITICAL, "DRA claims hand vLLM the GPUs its flags use",
    "Make the ResourceClaimTemplate request exactly TP x PP / pods-per-group devices of the GPU DeviceClass "
    "(gpu.nvidia.com) with allocationMode ExactCount, and keep the template with the workload.", gpu=True,
    rationale=("A pod that claims its GPUs through dynamic resource allocation gets what the claim's template "
               "asks for: fewer devices than --tensor-parallel-size x --pipeline-parallel-size and vLLM fails "
               "at start; more, and GPUs sit idle on a claim nobody else can use."),
    example=("resourceClaims: [{name: gpus, resourceClaimTemplateName: one-gpu}]   # exactly: {count: 1} for "
             "--tensor-parallel-size=4"))
def claims_match_parallelism(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    for obj in bundle.objects:
        for template, serving in vllm_pod_templates(obj):
            wanted = pod_gpus(template, serving.spec)
            if not wanted or not claims_devices(serving.spec):
                continue  # GPUs counted by the device plugin, or claims of a pod pinned to no GPU model
            claimed = claimed_gpus(template, namespace_of(obj), bundle)
            path = (*template.path, "resourceClaims")
            if claimed is None:
                yield Violation(path, "a DRA claim's ResourceClaimTemplate is not among the manifests, or asks for all "
                                      "devices of a class: the GPUs vLLM gets are unchecked", obj=obj,
                                severity=Severity.LOW)
                continue
            given = sum(claimed.values())
            if given != wanted:
                yield Violation(path, f"the pod's DRA claims hand out {given} GPU(s) of a GPU DeviceClass, but vLLM "
                                      f"uses {wanted} on this pod (TP x PP x DP over --nnodes)", obj=obj)
