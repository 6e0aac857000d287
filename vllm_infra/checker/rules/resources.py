"""CPU, memory, GPU and ephemeral-storage requests and limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vllm_infra.capacity.host import HOST_MEMORY_HEADROOM_BYTES, HostMemoryNeeds, host_needs
from vllm_infra.capacity.lora import lora_host_bytes
from vllm_infra.catalog.architectures import MODEL_CATALOG
from vllm_infra.catalog.vllm import ImageBuild
from vllm_infra.checker.reading.accelerators import build_of, gpu_count, gpu_resources, is_cpu_build, other_accelerator
from vllm_infra.checker.reading.lora import lora_flags
from vllm_infra.checker.reading.objects import Manifest, dig
from vllm_infra.checker.reading.server import engine_args, image_version, vllm_pod_templates
from vllm_infra.checker.reading.templates import ContainerRef, PodTemplate, containers, pod_templates
from vllm_infra.checker.rules.base import RuleContext, Violation, resource_rule
from vllm_infra.vocabulary.kubernetes import WORKLOAD_KINDS
from vllm_infra.vocabulary.reporting import Severity
from vllm_infra.vocabulary.units import format_bytes, parse_quantity


def _quantity(value: Any) -> float | None:
    try:
        return float(parse_quantity(value)) if value is not None else None
    except ValueError:
        return None


def memory_volumes(template: PodTemplate) -> dict[str, float | None]:
    """Memory-backed emptyDirs by name -> size limit in bytes (None when unbounded)."""
    return {v.get("name"): _quantity(dig(v, "emptyDir", "sizeLimit")) for v in template.spec.get("volumes") or []
            if dig(v, "emptyDir", "medium") == "Memory"}


@resource_rule(
    "VI-RES-001", Severity.CRITICAL, "The vLLM container limits an integer number of GPUs (requests == limits)",
    "Set resources.limits['nvidia.com/gpu'] (or amd.com/gpu) to TP x PP; if requests name it, make them equal; "
    "keep GPUs off init and sidecar containers.", kinds=WORKLOAD_KINDS, gpu=True,
    rationale=("The device plugin hands out whole GPUs by limit; a missing, fractional or unequal request "
               "leaves the pod without its GPUs or unschedulable."),
    example="resources: {requests: {nvidia.com/gpu: 1}}   # no limit")
def gpu_limits(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        if is_cpu_build(serving.spec) or other_accelerator(template, serving.spec):
            continue
        resources = gpu_resources(serving.spec)
        path = (*serving.path, "resources")
        build = build_of(serving.spec)
        if not resources and build in (ImageBuild.CUDA, ImageBuild.ROCM) and not template.template \
                and engine_args(serving.spec).server_args:  # a template's GPUs come from what uses it
            yield Violation(path, f"container '{serving.spec.get('name')}' requests no GPU, but its image "
                                  f"{serving.spec.get('image')!r} is a {build.value.upper()} build of vLLM (serve on "
                                  "CPUs with the CPU build, e.g. vllm/vllm-openai-cpu)")
        for name, (request, limit) in resources.items():
            if limit is None:
                yield Violation((*path, "limits"), f"{name} is requested but not limited (extended resources need "
                                                   "a limit)")
            elif (not isinstance(limit, int) and not str(limit).isdigit()) or int(str(limit)) < 1:
                yield Violation((*path, "limits", name), f"{name} limit {limit!r} is not a whole number >= 1")
            if request is not None and limit is not None and str(request) != str(limit):
                yield Violation((*path, "requests", name), f"{name} request {request} differs from limit {limit}")
        for ref in containers(template):
            if ref.path != serving.path and gpu_resources(ref.spec):
                yield Violation((*ref.path, "resources"), f"container '{ref.spec.get('name')}' also claims GPUs")


@resource_rule(
    "VI-RES-002", Severity.HIGH, "GPU containers: memory request == limit, covering tmpfs plus headroom",
    "Set memory requests equal to limits, at least the memory-backed emptyDirs (e.g. /dev/shm) plus 8Gi.",
    kinds=WORKLOAD_KINDS,
    rationale=("Memory-backed volumes count against the memory limit: without room for /dev/shm and the "
               "weights the kubelet OOM-kills the server while it loads."),
    example="resources: {limits: {memory: 8Gi}}   # with a 16Gi /dev/shm emptyDir")
def memory_sized(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        if not gpu_resources(serving.spec):
            continue
        path = (*serving.path, "resources")
        request = _quantity(dig(serving.spec, "resources", "requests", "memory"))
        limit = _quantity(dig(serving.spec, "resources", "limits", "memory"))
        if limit is None:
            yield Violation((*path, "limits"), "no memory limit; the node can be overcommitted during model load")
            continue
        if request is not None and request != limit:  # an unset request defaults to the limit
            yield Violation((*path, "requests", "memory"), "memory request differs from the limit")
        tmpfs = sum(size or 0 for size in memory_volumes(template).values())
        needs = _host_needs(obj, template, serving)
        if limit < tmpfs + needs.total:
            yield Violation((*path, "limits", "memory"),
                            f"memory limit {format_bytes(int(limit))} cannot hold {format_bytes(int(tmpfs))} of "
                            f"memory-backed volumes + {needs.describe()}")


def _host_needs(obj: Manifest, template: PodTemplate, serving: ContainerRef) -> HostMemoryNeeds:
    """What the server's flags put in host memory (the sleep-mode backup only for catalogued models)."""
    args = engine_args(serving.spec)
    arch = MODEL_CATALOG.get(args.repository or "")
    weights = arch.parameters * arch.weight_bytes / template.size if arch else None
    lora = lora_flags(serving.spec)
    cache = lora_host_bytes(arch, lora.max_cpu_loras or lora.max_loras or 1, lora.max_rank or 16) \
        if arch and lora and lora.enabled else 0.0
    return host_needs(args.flags, gpus=max(1, gpu_count(serving.spec)),
                      version=image_version(serving.spec, template.labels), weights_per_pod=weights, lora_cache=cache)


@resource_rule(
    "VI-RES-003", Severity.MEDIUM, "CPU request set (CPU limit optional)",
    "Set resources.requests.cpu so the scheduler reserves CPU for tokenization and the API server.",
    kinds=WORKLOAD_KINDS,
    rationale=("Tokenization and the API server run on CPUs; without a request the scheduler may pack the "
               "pod where it starves."),
    example="resources: {limits: {nvidia.com/gpu: 1}}   # no requests.cpu")
def cpu_request(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for _template, serving in vllm_pod_templates(obj):
        if dig(serving.spec, "resources", "requests", "cpu") is None:
            yield Violation((*serving.path, "resources"), f"container '{serving.spec.get('name')}' requests no CPU")


@resource_rule(
    "VI-RES-004", Severity.MEDIUM, "Disk emptyDirs are bounded and ephemeral storage is requested",
    "Give disk-backed emptyDirs a sizeLimit and set ephemeral-storage requests and limits on the container.",
    kinds=WORKLOAD_KINDS,
    rationale=("An unbounded disk emptyDir can fill the node's disk; without ephemeral-storage requests "
               "the pod is evicted under disk pressure."),
    example="volumes: [{name: cache, emptyDir: {}}]")
def ephemeral_storage(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        disk = [(i, v) for i, v in enumerate(template.spec.get("volumes") or [])
                if "emptyDir" in v and dig(v, "emptyDir", "medium") != "Memory"]
        for index, volume in disk:
            if dig(volume, "emptyDir", "sizeLimit") is None:
                yield Violation((*template.path, "volumes", index, "emptyDir"),
                                f"emptyDir '{volume.get('name')}' has no sizeLimit")
        if disk:
            for key in ("requests", "limits"):
                if dig(serving.spec, "resources", key, "ephemeral-storage") is None:
                    yield Violation((*serving.path, "resources", key),
                                    f"no ephemeral-storage {key[:-1]} although disk emptyDirs are mounted")


@resource_rule(
    "VI-RES-005", Severity.MEDIUM, "Memory-backed emptyDirs are bounded and fit in the memory limit",
    "Give every medium: Memory emptyDir a sizeLimit below the container's memory limit.", kinds=WORKLOAD_KINDS,
    gpu=True,
    rationale=("A memory emptyDir without a size limit can grow to the node's memory, and one larger than "
               "the memory limit OOM-kills the container."),
    example="volumes: [{name: dshm, emptyDir: {medium: Memory}}]")
def tmpfs_fits(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        volumes = memory_volumes(template)
        for index, volume in enumerate(template.spec.get("volumes") or []):
            if volume.get("name") in volumes and volumes[volume.get("name")] is None:
                yield Violation((*template.path, "volumes", index, "emptyDir"),
                                f"memory-backed emptyDir '{volume.get('name')}' has no sizeLimit")
        limit = _quantity(dig(serving.spec, "resources", "limits", "memory"))
        total = sum(size or 0 for size in volumes.values())
        if limit is not None and volumes and total >= limit:
            yield Violation((*serving.path, "resources", "limits", "memory"),
                            f"memory-backed volumes ({format_bytes(int(total))}) do not fit in the memory limit "
                            f"({format_bytes(int(limit))})")



@resource_rule(
    "VI-RES-006", Severity.HIGH, "vLLM without a GPU sets memory requests and limits that hold vLLM",
    "Set resources.requests.memory and limits.memory to the weights plus the KV cache (VLLM_CPU_KVCACHE_SPACE on "
    "CPUs) plus 8Gi for vLLM's own processes.", kinds=WORKLOAD_KINDS,
    rationale=("vLLM on CPUs or on accelerators outside the GPU catalog (Gaudi, Neuron, TPU) keeps weights in "
               "host memory while it loads: without requests and limits the pod lands where it does not fit, and "
               "a limit below what vLLM's processes take OOM-kills it before any model loads."),
    example="image: vllm/vllm-openai-cpu:v0.11.0   # no resources.requests.memory")
def cpu_serving_memory(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for _template, serving in vllm_pod_templates(obj):
        if gpu_resources(serving.spec):
            continue  # VI-RES-002 sizes GPU containers
        name = serving.spec.get("name")
        missing = [key for key in ("requests", "limits") if dig(serving.spec, "resources", key, "memory") is None]
        if len(missing) == 2:
            yield Violation((*serving.path, "resources"), f"container '{name}' runs vLLM without a GPU and with no "
                                                          "memory request or limit: a BestEffort pod, the first "
                                                          "evicted or OOM-killed, holding its weights in host memory")
        elif missing == ["limits"]:
            yield Violation((*serving.path, "resources", "limits"), f"container '{name}' runs vLLM without a GPU "
                                                                    "and with no memory limit")
        for key in ("limits", "requests"):
            amount = _quantity(dig(serving.spec, "resources", key, "memory"))
            if amount is not None and amount < HOST_MEMORY_HEADROOM_BYTES:
                yield Violation((*serving.path, "resources", key, "memory"),
                                f"memory {key[:-1]} {format_bytes(int(amount))} cannot hold vLLM's own processes "
                                f"({format_bytes(HOST_MEMORY_HEADROOM_BYTES)} before any weights): the server is "
                                "OOM-killed loading any model")
                break


@resource_rule(
    "VI-RES-007", Severity.CRITICAL, "Extended resources (GPUs, MIG slices) and hugepages: request equals limit",
    "Give extended resources and hugepages equal requests and limits (or limits only): the API server refuses a "
    "pod whose request differs, so nothing deploys.", kinds=WORKLOAD_KINDS,
    rationale=("The API server refuses a pod whose extended-resource or hugepages request differs from its"
               " limit: nothing deploys."),
    example="resources: {requests: {nvidia.com/gpu: 1}, limits: {nvidia.com/gpu: 2}}")
def extended_resources_equal(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template in pod_templates(obj):
        for ref in containers(template):
            requests = dig(ref.spec, "resources", "requests")
            limits = dig(ref.spec, "resources", "limits")
            requested = requests if isinstance(requests, dict) else {}
            limited = limits if isinstance(limits, dict) else {}
            for name, request in sorted(requested.items(), key=lambda item: str(item[0])):
                if not ("/" in str(name) or str(name).startswith("hugepages-")):
                    continue
                if name not in limited:
                    yield Violation((*ref.path, "resources", "limits"), f"{name} is requested without a limit")
                elif str(request) != str(limited[name]):
                    yield Violation((*ref.path, "resources", "requests", str(name)),
                                    f"{name} request {request} differs from its limit {limited[name]}")
