"""The resolved view of one service: every value the spec leaves to a default, computed in one
place. Render, plan and the spec's own cross-section checks read it; the spec keeps only fields."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from vllm_infra.capacity.host import HostMemoryNeeds, host_needs
from vllm_infra.capacity.lora import lora_host_bytes
from vllm_infra.capacity.memory import DEFAULT_BLOCK_SIZE, MemoryEstimate, ServingSettings, estimate
from vllm_infra.capacity.startup import DOWNLOAD_MIB_PER_S, STREAM_MIB_PER_S, startup_seconds, transfer_seconds
from vllm_infra.catalog.architectures import MODEL_CATALOG, ModelArchitecture
from vllm_infra.catalog.gpus import GpuModel
from vllm_infra.catalog.quantization import effective_quantization
from vllm_infra.catalog.vllm import VllmVersion, hybrid_kv_manager
from vllm_infra.catalog.vllm_releases import accepted_lora_ranks
from vllm_infra.spec.loading import LoadingStrategy
from vllm_infra.spec.storage import CacheType
from vllm_infra.vocabulary.kubernetes import scaled_int_or_percent
from vllm_infra.vocabulary.limits import MAX_SCALE_UP_PERIOD_SECONDS, MIN_GRACE_PERIOD_SECONDS
from vllm_infra.vocabulary.units import GIB_BYTES, gib_to_bytes, parse_quantity

if TYPE_CHECKING:
    from vllm_infra.spec.service import VllmServiceSpec

DEFAULT_STARTUP_SECONDS = 900
"""Startup budget (and transfer time before the start) of a model whose size is unknown."""
MODEL_IMAGE_PATH = "/model-image"
"""Where a model image is mounted (or copied to); its files are under ``models/`` (KServe's modelcar
layout)."""
MODELCAR_DIR = "/models"
"""Where a modelcar image keeps the model's files."""
MIN_SHM_GIB, MAX_SHM_GIB, SHM_GIB_PER_GPU = 2, 16, 2
MEMORY_GIB_PER_GPU = 16
"""Host memory per GPU when the model's size is unknown."""
CPU_PER_GPU = 4
CACHE_DEFAULT_GIB = 100
MIN_CACHE_GIB = 20
CACHE_WEIGHTS_FACTOR = 1.25
STARTUP_PROBE_PERIOD = 10
"""Seconds between startup-probe checks; the failure threshold covers the startup budget."""
GRACE_MARGIN_SECONDS = 15
"""Rendered grace period beyond preStop + the drain timeout."""
DECODE_VLLM_PORT = 8200
"""vLLM's port on decode pods, behind the routing sidecar (llm-d's convention)."""


@dataclass(frozen=True)
class ResolvedService:
    """A validated service with its defaults resolved."""

    spec: VllmServiceSpec

    @property
    def name(self) -> str:
        """The service name (every object's name)."""
        return self.spec.name

    @property
    def pair_name(self) -> str | None:
        """The disaggregated service this role belongs to (None for a service that is not a role)."""
        role = self.spec.role
        return self.spec.name.removesuffix(f"-{role.value}") if role else None

    @property
    def vllm_port(self) -> int:
        """Where vLLM listens: the Service port, except on decode pods, where the routing sidecar
        takes it and forwards to vLLM."""
        return DECODE_VLLM_PORT if self.spec.role == "decode" else self.spec.service.port

    @property
    def gpu(self) -> GpuModel:
        """Catalog facts of the GPU type."""
        return self.spec.accelerator.gpu

    @property
    def vllm_version(self) -> VllmVersion:
        """The vLLM release in the image."""
        return self.spec.image.version

    @cached_property
    def gpus_per_pod(self) -> int:
        """GPUs each pod requests."""
        par = self.spec.parallelism
        return self.spec.accelerator.count or max(1, par.world_size // par.nodes)

    @property
    def gpus_per_replica(self) -> int:
        """GPUs one replica (a pod, or a multi-node group) requests."""
        return self.gpus_per_pod * self.spec.parallelism.nodes

    @property
    def gpus_per_node(self) -> int:
        """GPUs on one node of the pool."""
        return self.spec.accelerator.gpus_per_node or self.gpu.gpus_per_node

    @cached_property
    def architecture(self) -> ModelArchitecture | None:
        """Architecture facts: inline, a named catalog entry, or the catalog entry for the id."""
        arch = self.spec.model.architecture
        if arch is not None and not isinstance(arch, str):
            return arch.facts()
        return MODEL_CATALOG.get(arch or self.spec.model.id)

    @property
    def context_length(self) -> int | None:
        """``max_model_len`` in effect (the model's maximum unless set; None if unknown)."""
        arch = self.architecture
        return self.spec.model.max_model_len or (arch.context_length if arch else None)

    @cached_property
    def serving_settings(self) -> ServingSettings | None:
        """What the memory estimate depends on (None when the architecture is unknown)."""
        arch, length, model = self.architecture, self.context_length, self.spec.model
        if arch is None or length is None:
            return None
        extra = model.extra_args
        return ServingSettings(
            arch=arch, gpu=self.gpu, tensor=self.spec.parallelism.tensor, pipeline=self.spec.parallelism.pipeline,
            dtype=model.dtype.value, quantization=self.served_quantization,
            kv_cache_dtype=model.kv_cache_dtype.value, max_model_len=length, max_num_seqs=model.max_num_seqs,
            utilization=model.gpu_memory_utilization, version=self.vllm_version,
            max_num_batched_tokens=_integer(extra.get("max-num-batched-tokens")),
            kv_cache_memory_bytes=_integer(extra.get("kv-cache-memory-bytes")),
            block_size=_integer(extra.get("block-size")) or DEFAULT_BLOCK_SIZE,
            enforce_eager=extra.get("enforce-eager") is True,
            hybrid_kv=hybrid_kv_manager({**self._implied_kv_flags, **extra}),
            lora_slots=self.spec.lora.max_loras if self.spec.lora else 0, lora_rank=self.lora_rank)

    @property
    def _implied_kv_flags(self) -> dict[str, object]:
        """The KV flags the renderer adds: a role's connector, the offload tier's size."""
        implied: dict[str, object] = {}
        if self.spec.role is not None:
            implied["kv-transfer-config"] = True
        if self.spec.model.kv_offload is not None:
            implied["kv-offloading-size"] = True
        return implied

    @cached_property
    def memory_estimate(self) -> MemoryEstimate | None:
        """Memory per GPU as configured (None if the architecture is unknown)."""
        return estimate(self.serving_settings) if self.serving_settings else None

    @property
    def weights_bytes(self) -> float | None:
        """Size of the model's weights as served (None if unknown)."""
        return self.serving_settings.weights_bytes if self.serving_settings else None

    @property
    def min_scale(self) -> int:
        """Replicas at minimum scale."""
        scaling = self.spec.autoscaling
        return scaling.min_replicas if scaling else self.spec.availability.replicas

    @property
    def max_scale(self) -> int:
        """Replicas at maximum scale."""
        scaling = self.spec.autoscaling
        return scaling.max_replicas if scaling else self.spec.availability.replicas

    @property
    def disruption_budget_enabled(self) -> bool:
        """Whether a PodDisruptionBudget is rendered."""
        enabled = self.spec.availability.disruption_budget.enabled
        return self.min_scale > 1 if enabled is None else enabled

    @property
    def spare_gpus(self) -> int:
        """GPUs of this type free for rollouts."""
        return self.spec.availability.rollout.spare_gpus or 0

    @property
    def max_surge(self) -> int | str:
        """Rollout surge: as set, else one replica when spare GPUs cover it, else 0."""
        surge = self.spec.availability.rollout.max_surge
        if surge is not None:
            return surge
        return 1 if self.spare_gpus >= self.gpus_per_replica else 0

    @property
    def max_unavailable(self) -> int | str:
        """Replicas a rollout may stop: as set, else 0 when surging, else 1."""
        unavailable = self.spec.availability.rollout.max_unavailable
        if unavailable is not None:
            return unavailable
        return 0 if self.surge_pods(max(1, self.min_scale)) else 1

    def surge_pods(self, replicas: int) -> int:
        """Replicas a rollout adds above ``replicas`` (percentages round up)."""
        return scaled_int_or_percent(self.max_surge, replicas, round_up=True)

    def unavailable_pods(self, replicas: int) -> int:
        """Replicas a rollout may stop at ``replicas`` (percentages round down)."""
        return scaled_int_or_percent(self.max_unavailable, replicas, round_up=False)

    @property
    def strategy(self) -> LoadingStrategy:
        """How the weights reach the pod."""
        return self.spec.loading.strategy

    @property
    def downloads_at_start(self) -> bool:
        """Whether vLLM downloads the weights from the Hub when its container starts."""
        return self.strategy == LoadingStrategy.DOWNLOAD and not self.spec.storage.model_cache.offline

    @property
    def fetches_adapters_at_start(self) -> bool:
        """Whether an init container downloads LoRA adapters before the server starts (not when the
        cache is pre-populated, nor after a prefetch Job, which fetches them)."""
        lora = self.spec.lora
        return bool(lora and lora.adapters) and not self.spec.storage.model_cache.offline and \
            self.strategy != LoadingStrategy.PREFETCH

    @property
    def reaches_internet_at_start(self) -> bool:
        """Whether the pod needs HTTPS egress to start: Hub downloads, adapter fetches, the object store."""
        return self.downloads_at_start or self.fetches_adapters_at_start or self.strategy == LoadingStrategy.STREAM

    @property
    def model_argument(self) -> str:
        """What ``vllm serve`` is given as the model: the Hub id (downloaded or cached), the image's
        directory, or the object-store prefix."""
        if self.strategy == LoadingStrategy.IMAGE:
            return f"{MODEL_IMAGE_PATH}{MODELCAR_DIR}"
        if self.strategy == LoadingStrategy.STREAM:
            assert self.spec.loading.uri is not None, "checked by LoadingSpec"
            return self.spec.loading.uri
        return self.spec.model.id

    @property
    def served_quantization(self) -> str | None:
        """The weight format vLLM runs (None without an architecture, or for full precision)."""
        arch, model = self.architecture, self.spec.model
        return effective_quantization(model.quantization.value if model.quantization else None,
                                      arch.quantization if arch else None)

    @property
    def transfer_rate(self) -> int:
        """MiB/s of the transfer the loading strategy depends on (as set, else the assumption)."""
        default = STREAM_MIB_PER_S if self.strategy == LoadingStrategy.STREAM else DOWNLOAD_MIB_PER_S
        return self.spec.loading.transfer_mib_per_s or default

    @cached_property
    def estimated_startup(self) -> int:
        """Seconds vllm-infra estimates from the server container's start to serving (the floor a
        startup budget may not undercut): the download it makes itself, or the stream, then the load."""
        arch = self.architecture
        if arch is None:
            return DEFAULT_STARTUP_SECONDS
        streamed = self.strategy == LoadingStrategy.STREAM
        return startup_seconds(arch, dtype=self.spec.model.dtype.value, quantization=self.served_quantization,
                               gpus=self.gpus_per_replica, streamed=streamed,
                               transfer_mib_per_s=self.transfer_rate if streamed or self.downloads_at_start else None)

    @cached_property
    def pull_before_start(self) -> int:
        """Seconds a pod on a fresh node spends before its containers start: pulling and unpacking a
        model image (0 for the other strategies)."""
        if self.strategy != LoadingStrategy.IMAGE:
            return 0
        return self._transfer(unpacked=True)

    @cached_property
    def prefetch_seconds(self) -> int:
        """Seconds the prefetch Job downloads for (0 without one): the first rollout waits for it."""
        return self._transfer(unpacked=False) if self.strategy == LoadingStrategy.PREFETCH else 0

    def _transfer(self, *, unpacked: bool) -> int:
        arch = self.architecture
        if arch is None:
            return DEFAULT_STARTUP_SECONDS
        return transfer_seconds(arch, dtype=self.spec.model.dtype.value, quantization=self.served_quantization,
                                mib_per_s=self.transfer_rate, unpacked=unpacked)

    @property
    def startup_budget(self) -> int:
        """Seconds from container start to serving: as set, else the estimate."""
        return self.spec.lifecycle.startup_timeout or self.estimated_startup

    @property
    def cold_start(self) -> int:
        """Seconds from a new pod to a serving one on a fresh node: the model image's pull, then the
        startup probe's budget (what a scale-from-zero waits for)."""
        return self.pull_before_start + self.startup_probe_budget

    @property
    def startup_probe_failures(self) -> int:
        """Startup-probe failure threshold that covers the startup budget."""
        return math.ceil(self.startup_budget / STARTUP_PROBE_PERIOD)

    @property
    def startup_probe_budget(self) -> int:
        """Seconds the rendered startup probe tolerates (the budget rounded up to whole periods)."""
        return self.startup_probe_failures * STARTUP_PROBE_PERIOD

    @property
    def await_budget(self) -> int:
        """Seconds a deployment tool should wait for the workload: the image pull, the prefetch Job a
        first rollout waits for, the model image's pull and the startup probe."""
        return self.spec.lifecycle.image_pull_timeout + self.prefetch_seconds + self.cold_start

    @property
    def grace_period(self) -> int:
        """``terminationGracePeriodSeconds``: preStop + drain + a margin, at least the rule's minimum."""
        drain = self.spec.lifecycle.drain
        return max(MIN_GRACE_PERIOD_SECONDS, drain.endpoint_delay + drain.request_timeout + GRACE_MARGIN_SECONDS)

    @property
    def shm_bytes(self) -> int:
        """Size of ``/dev/shm``."""
        if self.spec.storage.shm_size:
            return int(parse_quantity(self.spec.storage.shm_size))
        return gib_to_bytes(min(MAX_SHM_GIB, max(MIN_SHM_GIB, SHM_GIB_PER_GPU * self.gpus_per_pod)))

    @property
    def process_memory_bytes(self) -> int:
        """Host memory for the vLLM processes (excluding ``/dev/shm``): as set, else the pod's share
        of the weights plus the headroom (loading stages weights in host memory)."""
        if self.spec.resources.memory:
            return int(parse_quantity(self.spec.resources.memory))
        weights = self.weights_bytes
        if weights is None:
            return gib_to_bytes(MEMORY_GIB_PER_GPU * self.gpus_per_pod) + math.ceil(self.host_needs.tiers)
        share = math.ceil(weights / self.spec.parallelism.nodes / GIB_BYTES)
        return gib_to_bytes(share) + math.ceil(self.host_needs.total)

    @property
    def lora_rank(self) -> int:
        """``--max-lora-rank``: as set, else the smallest the release accepts that holds the largest
        adapter (16 without adapters; 0 without LoRA)."""
        lora = self.spec.lora
        if lora is None:
            return 0
        if lora.max_lora_rank:
            return lora.max_lora_rank
        fitting = [rank for rank in accepted_lora_ranks(self.vllm_version) if rank >= max(lora.largest_rank, 16)]
        return fitting[0] if fitting else max(lora.largest_rank, 16)

    @property
    def engine_flags(self) -> dict[str, object]:
        """``extra_args`` with the typed fields that change host memory, as flag names."""
        flags: dict[str, object] = dict(self.spec.model.extra_args)
        offload = self.spec.model.kv_offload
        if offload is not None:
            flags["kv-offloading-size"] = offload.size_gib
        return flags

    @property
    def host_needs(self) -> HostMemoryNeeds:
        """Host memory the engine flags ask for besides ``/dev/shm`` (processes, offload tiers, the
        CPU LoRA cache)."""
        weights, lora, arch = self.weights_bytes, self.spec.lora, self.architecture
        cache = lora_host_bytes(arch, lora.max_cpu_loras or lora.max_loras, self.lora_rank) if lora and arch else 0.0
        return host_needs(self.engine_flags, gpus=self.gpus_per_pod, version=self.vllm_version,
                          weights_per_pod=weights / self.spec.parallelism.nodes if weights else None,
                          lora_cache=cache)

    @property
    def memory_limit_bytes(self) -> int:
        """Container memory request and limit: process memory plus ``/dev/shm``."""
        return self.process_memory_bytes + self.shm_bytes

    @property
    def cpu_request(self) -> str:
        """CPU request as a quantity."""
        return self.spec.resources.cpu or str(CPU_PER_GPU * self.gpus_per_pod)

    @property
    def model_cache_bytes(self) -> int | None:
        """Size of the cache volume (None for an existing claim): as set, else the weights plus a
        quarter for partial downloads and compile caches (at least 20Gi), or 100Gi for unknown
        models; 20Gi when the weights live elsewhere (a model image, object storage)."""
        cache = self.spec.storage.model_cache
        if cache.type == CacheType.EXISTING_CLAIM:
            return None
        if cache.size:
            return int(parse_quantity(cache.size))
        if self.strategy in (LoadingStrategy.IMAGE, LoadingStrategy.STREAM):
            return gib_to_bytes(MIN_CACHE_GIB)
        weights = self.weights_bytes
        if weights is None:
            return gib_to_bytes(CACHE_DEFAULT_GIB)
        return gib_to_bytes(max(MIN_CACHE_GIB, math.ceil(CACHE_WEIGHTS_FACTOR * weights / GIB_BYTES)))

    @property
    def scale_to_zero_cooldown(self) -> int:
        """KEDA's ``cooldownPeriod``: the scale-down stabilization, and when the service scales to zero
        at least a cold start (model image pull and startup probe): a pod that is still pulling or
        loading emits no metrics, and a shorter cooldown would scale it back to zero before it serves."""
        scaling = self.spec.autoscaling
        stabilization = scaling.scale_down_stabilization if scaling else 0
        return max(stabilization, self.cold_start) if self.min_scale == 0 else stabilization

    @property
    def scale_up_period(self) -> int:
        """Seconds in which at most ``scale_up_pods`` are added: no faster than a pod starts."""
        scaling = self.spec.autoscaling
        configured = scaling.scale_up_period if scaling else None
        return configured or min(MAX_SCALE_UP_PERIOD_SECONDS, self.startup_probe_budget)


def _integer(value: object) -> int | None:
    """An integer ``extra_args`` value (None when absent or not a plain integer)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None
