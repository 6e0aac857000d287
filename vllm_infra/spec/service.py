"""The root of one model server's declaration and the checks that span its sections."""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from vllm_infra.capacity import (
    MemoryEstimate,
    estimate,
    gib,
    startup_seconds,
    weight_bytes_per_parameter,
)
from vllm_infra.catalog.gpus import GPU_CATALOG, GpuModel
from vllm_infra.catalog.models import MODEL_CATALOG, ModelArchitecture
from vllm_infra.spec.accelerator import AcceleratorSpec, ParallelismSpec
from vllm_infra.spec.autoscaling import DEFAULT_TARGETS, AutoscalingSpec, ScalingMetric
from vllm_infra.spec.availability import AvailabilitySpec, RolloutStrategy, resolve_surge, resolve_unavailable
from vllm_infra.spec.base import EnvName, Problem, SecretKeyRef, SpecModel, raise_problems
from vllm_infra.spec.exposure import MetricsSpec, NetworkPolicySpec, SecuritySpec, ServiceSpec
from vllm_infra.spec.image import ImageSpec
from vllm_infra.spec.lifecycle import LifecycleSpec
from vllm_infra.spec.model import Dtype, ModelSpec, Quantization
from vllm_infra.spec.patches import ObjectPatch
from vllm_infra.spec.resources import ResourcesSpec
from vllm_infra.spec.routing import RoutingSpec
from vllm_infra.spec.scheduling import SchedulingSpec
from vllm_infra.spec.storage import AccessMode, CacheType, StorageSpec
from vllm_infra.units import GIB_BYTES, gib_to_bytes, parse_quantity

ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", max_length=40)]

_SECRET_ENV = re.compile(r"(^HF_TOKEN$|^HUGGING_FACE_HUB_TOKEN$|_TOKEN$|_SECRET$|_API_KEY$|_PASSWORD$|^VLLM_API_KEY$)")
_DEVICE_ENV = frozenset({"NVIDIA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
                         "HIP_VISIBLE_DEVICES"})
RENDERED_ENV = frozenset({"HOME", "HF_HOME", "HF_HUB_OFFLINE", "HF_TOKEN", "HF_TOKEN_PATH", "VLLM_API_KEY",
                          "VLLM_CACHE_ROOT", "VLLM_NO_USAGE_STATS", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
                          "TRITON_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR", "NUMBA_CACHE_DIR"})
"""Environment variables vllm-infra sets itself (cache paths for a read-only root filesystem)."""

DEFAULT_STARTUP_SECONDS = 900
MIN_SHM_GIB, MAX_SHM_GIB, SHM_GIB_PER_GPU = 2, 16, 2
MEMORY_GIB_PER_GPU = 16
HOST_MEMORY_HEADROOM_GIB = 8
CPU_PER_GPU = 4
CACHE_DEFAULT_GIB = 100
MIN_CACHE_GIB = 20
CACHE_WEIGHTS_FACTOR = 1.25


class VllmServiceSpec(SpecModel):
    """One vLLM model server: a Deployment (or LeaderWorkerSet) with its Service, PDB and
    autoscaler. Every section has safe defaults; only ``name``, ``model``, ``image`` and
    ``accelerator`` are required."""

    name: ServiceName
    """Name of every object rendered for this service (max 40 characters, DNS label). Required."""

    model: ModelSpec
    """Model and engine settings. Required."""

    image: ImageSpec
    """vLLM container image. Required."""

    accelerator: AcceleratorSpec
    """GPU model and count. Required."""

    parallelism: ParallelismSpec = Field(default_factory=ParallelismSpec)
    """Tensor/pipeline parallelism and nodes per replica. Default: 1 GPU, 1 node."""

    scheduling: SchedulingSpec = Field(default_factory=SchedulingSpec)
    """Placement. Default: GPU-type affinity, GPU taint toleration, preferred spread."""

    availability: AvailabilitySpec = Field(default_factory=AvailabilitySpec)
    """Replicas, rollout and disruption budget. Default: 1 replica, no surge."""

    lifecycle: LifecycleSpec = Field(default_factory=LifecycleSpec)
    """Probes and graceful drain. Default: startup budget from model size, 15s + 60s drain."""

    storage: StorageSpec = Field(default_factory=StorageSpec)
    """``/dev/shm``, ``/tmp``, model cache and HF token. Default: sized from GPUs, emptyDir cache."""

    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    """CPU and host memory. Default: derived from GPUs and model size."""

    service: ServiceSpec = Field(default_factory=ServiceSpec)
    """ClusterIP Service. Default: port 8000."""

    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    """Prometheus scraping. Default: scrape annotations, no ServiceMonitor."""

    network_policy: NetworkPolicySpec = Field(default_factory=NetworkPolicySpec)
    """NetworkPolicy. Default: not rendered."""

    security: SecuritySpec = Field(default_factory=SecuritySpec)
    """Process identity and API key. Default: UID/GID 1000, no API key."""

    autoscaling: AutoscalingSpec | None = None
    """Autoscaler on vLLM metrics. Default: none (fixed ``availability.replicas``)."""

    routing: RoutingSpec = Field(default_factory=RoutingSpec)
    """Gateway API Inference Extension objects. Default: none."""

    env: dict[EnvName, str] = Field(default_factory=dict)
    """Extra plain environment variables. Secret-looking names are rejected (use ``secret_env``).
    Default: none."""

    secret_env: dict[EnvName, SecretKeyRef] = Field(default_factory=dict)
    """Extra environment variables read from Secrets. Default: none."""

    patches: list[ObjectPatch] = Field(default_factory=list)
    """JSON patches applied to the rendered objects (escape hatch; policies run afterwards).
    Default: none."""

    # ---- derived values: the single place each default is computed -------------------------

    @property
    def gpu(self) -> GpuModel:
        """Catalog facts of the GPU type."""
        return self.accelerator.gpu

    @property
    def gpus_per_pod(self) -> int:
        """GPUs each pod requests."""
        return self.accelerator.count or max(1, self.parallelism.world_size // self.parallelism.nodes)

    @property
    def gpus_per_replica(self) -> int:
        """GPUs one replica (a pod, or a multi-node group) requests."""
        return self.gpus_per_pod * self.parallelism.nodes

    @property
    def architecture(self) -> ModelArchitecture | None:
        """Architecture facts: inline, a named catalog entry, or the catalog entry for the id."""
        arch = self.model.architecture
        if arch is not None and not isinstance(arch, str):
            return arch.facts()
        return MODEL_CATALOG.get(arch or self.model.id)

    @property
    def context_length(self) -> int | None:
        """``max_model_len`` in effect (the model's maximum unless set; None if unknown)."""
        arch = self.architecture
        return self.model.max_model_len or (arch.context_length if arch else None)

    def memory_on(self, gpu: GpuModel, tensor: int | None = None, max_model_len: int | None = None,
                  quantization: str | None = None, kv_cache_dtype: str | None = None) -> MemoryEstimate | None:
        """Memory per GPU of this service, optionally with one setting changed (None if unknown)."""
        arch = self.architecture
        length = max_model_len or self.context_length
        if arch is None or length is None:
            return None
        quant = quantization if quantization is not None else (self.model.quantization or None)
        return estimate(arch, gpu, tensor=tensor or self.parallelism.tensor, pipeline=self.parallelism.pipeline,
                        dtype=self.model.dtype.value, quantization=str(quant) if quant else None,
                        kv_cache_dtype=kv_cache_dtype or self.model.kv_cache_dtype.value, max_model_len=length,
                        max_num_seqs=self.model.max_num_seqs, utilization=self.model.gpu_memory_utilization)

    @property
    def memory_estimate(self) -> MemoryEstimate | None:
        """Memory per GPU as configured (None if the architecture is unknown)."""
        return self.memory_on(self.gpu)

    @property
    def weights_bytes(self) -> float | None:
        """Size of the model's weights as served (None if unknown)."""
        arch = self.architecture
        if arch is None:
            return None
        quant = self.model.quantization.value if self.model.quantization else None
        return arch.parameters * weight_bytes_per_parameter(arch, self.model.dtype.value, quant)

    @property
    def min_scale(self) -> int:
        """Replicas at minimum scale."""
        return self.autoscaling.min_replicas if self.autoscaling else self.availability.replicas

    @property
    def max_scale(self) -> int:
        """Replicas at maximum scale."""
        return self.autoscaling.max_replicas if self.autoscaling else self.availability.replicas

    @property
    def disruption_budget_enabled(self) -> bool:
        """Whether a PodDisruptionBudget is rendered."""
        enabled = self.availability.disruption_budget.enabled
        return self.min_scale > 1 if enabled is None else enabled

    @property
    def spare_gpus(self) -> int:
        """GPUs of this type free for rollouts."""
        return self.availability.rollout.spare_gpus or 0

    @property
    def max_surge(self) -> int | str:
        """Rollout surge: as set, else one replica when spare GPUs cover it, else 0."""
        surge = self.availability.rollout.max_surge
        if surge is not None:
            return surge
        return 1 if self.spare_gpus >= self.gpus_per_replica else 0

    @property
    def max_unavailable(self) -> int | str:
        """Replicas a rollout may stop: as set, else 0 when surging, else 1."""
        unavailable = self.availability.rollout.max_unavailable
        if unavailable is not None:
            return unavailable
        return 0 if resolve_surge(self.max_surge, max(1, self.min_scale)) else 1

    @property
    def startup_budget(self) -> int:
        """Seconds from container start to serving: as set, else derived from the model's size."""
        if self.lifecycle.startup_timeout:
            return self.lifecycle.startup_timeout
        arch = self.architecture
        if arch is None:
            return DEFAULT_STARTUP_SECONDS
        quant = self.model.quantization.value if self.model.quantization else None
        return startup_seconds(arch, dtype=self.model.dtype.value, quantization=quant, gpus=self.gpus_per_replica,
                               downloads=not self.storage.model_cache.offline)

    @property
    def await_budget(self) -> int:
        """Seconds a deployment tool should wait for the workload: pull + startup."""
        return self.lifecycle.image_pull_timeout + self.startup_budget

    @property
    def shm_bytes(self) -> int:
        """Size of ``/dev/shm``."""
        if self.storage.shm_size:
            return int(parse_quantity(self.storage.shm_size))
        gib_size = min(MAX_SHM_GIB, max(MIN_SHM_GIB, SHM_GIB_PER_GPU * self.gpus_per_pod))
        return gib_to_bytes(gib_size)

    @property
    def process_memory_bytes(self) -> int:
        """Host memory for the vLLM processes (excluding ``/dev/shm``): as set, else the pod's
        share of the weights plus 8Gi (loading stages weights in host memory)."""
        if self.resources.memory:
            return int(parse_quantity(self.resources.memory))
        weights = self.weights_bytes
        if weights is None:
            return gib_to_bytes(MEMORY_GIB_PER_GPU * self.gpus_per_pod)
        return gib_to_bytes(math.ceil(weights / self.parallelism.nodes / GIB_BYTES) + HOST_MEMORY_HEADROOM_GIB)

    @property
    def memory_limit_bytes(self) -> int:
        """Container memory request and limit: process memory plus ``/dev/shm``."""
        return self.process_memory_bytes + self.shm_bytes

    @property
    def cpu_request(self) -> str:
        """CPU request as a quantity."""
        return self.resources.cpu or str(CPU_PER_GPU * self.gpus_per_pod)

    @property
    def model_cache_bytes(self) -> int | None:
        """Size of the cache volume (None for an existing claim): as set, else the weights plus a
        quarter for partial downloads and compile caches (at least 20Gi), or 100Gi for unknown
        models."""
        cache = self.storage.model_cache
        if cache.type == CacheType.EXISTING_CLAIM:
            return None
        if cache.size:
            return int(parse_quantity(cache.size))
        weights = self.weights_bytes
        if weights is None:
            return gib_to_bytes(CACHE_DEFAULT_GIB)
        return gib_to_bytes(max(MIN_CACHE_GIB, math.ceil(CACHE_WEIGHTS_FACTOR * weights / GIB_BYTES)))

    @property
    def scaling_target(self) -> float | None:
        """Per-pod autoscaling target with defaults resolved."""
        if self.autoscaling is None:
            return None
        if self.autoscaling.target is not None:
            return self.autoscaling.target
        if self.autoscaling.metric == ScalingMetric.RUNNING_REQUESTS:
            return float(int(DEFAULT_TARGETS[ScalingMetric.RUNNING_REQUESTS] * self.model.max_num_seqs))
        return DEFAULT_TARGETS[self.autoscaling.metric]

    @property
    def scale_up_period(self) -> int:
        """Seconds in which at most ``scale_up_pods`` are added."""
        configured = self.autoscaling.scale_up_period if self.autoscaling else None
        return configured or min(1800, self.startup_budget)

    # ---- cross-section checks --------------------------------------------------------------

    @model_validator(mode="after")
    def _check(self) -> VllmServiceSpec:
        problems = [
            *self._parallelism_problems(),
            *self._accelerator_problems(),
            *self._availability_problems(),
            *self._storage_problems(),
            *self._env_problems(),
        ]
        if not problems:
            problems += self._capacity_problems()
        raise_problems("VllmServiceSpec", problems)
        return self

    def _parallelism_problems(self) -> list[Problem]:
        par, acc = self.parallelism, self.accelerator
        if par.world_size % par.nodes:
            return [Problem(("parallelism", "nodes"),
                            f"parallelism.tensor ({par.tensor}) x parallelism.pipeline ({par.pipeline}) = "
                            f"{par.world_size} GPUs cannot be split evenly over parallelism.nodes ({par.nodes})",
                            par.nodes)]
        per_pod = par.world_size // par.nodes
        if acc.count is not None and acc.count != per_pod:
            return [Problem(("accelerator", "count"),
                            f"accelerator.count ({acc.count}) must equal parallelism.tensor ({par.tensor}) x "
                            f"parallelism.pipeline ({par.pipeline}) / parallelism.nodes ({par.nodes}) = "
                            f"{per_pod} GPUs per pod", acc.count)]
        if per_pod > acc.node_capacity:
            nodes = -(-par.world_size // acc.node_capacity)
            return [Problem(("parallelism", "nodes"),
                            f"one pod would need {per_pod} GPUs but a {acc.type} node has {acc.node_capacity}: "
                            f"set parallelism.nodes to {nodes} or more", par.nodes)]
        return []

    def _accelerator_problems(self) -> list[Problem]:
        acc, problems = self.accelerator, []
        if acc.platform not in self.gpu.node_labels:
            offered = ", ".join(self.gpu.platforms()) or "none"
            problems.append(Problem(("accelerator", "platform"),
                                    f"{acc.type} is not offered on platform {acc.platform} (platforms with "
                                    f"{acc.type}: {offered})", acc.platform.value))
        if self.model.dtype == Dtype.BFLOAT16 and not self.gpu.supports_bf16:
            problems.append(Problem(("model", "dtype"),
                                    f"{acc.type} does not support bfloat16; set model.dtype to float16",
                                    self.model.dtype.value))
        return problems

    def _availability_problems(self) -> list[Problem]:
        avail, problems = self.availability, []
        if self.autoscaling and "replicas" in avail.model_fields_set:
            problems.append(Problem(("availability", "replicas"),
                                    f"the autoscaler owns the replica count (autoscaling.min_replicas is "
                                    f"{self.autoscaling.min_replicas}); remove availability.replicas",
                                    avail.replicas))
        budget = avail.disruption_budget
        if self.disruption_budget_enabled and budget.min_available is not None \
                and budget.min_available >= self.min_scale:
            problems.append(Problem(("availability", "disruption_budget", "min_available"),
                                    f"min_available ({budget.min_available}) must be below the minimum replica "
                                    f"count ({self.min_scale}), or no node running this model can be drained",
                                    budget.min_available))
        problems += self._rollout_problems()
        if self.autoscaling and self.autoscaling.metric == ScalingMetric.KV_CACHE_USAGE \
                and (self.autoscaling.target or 0) > 1:
            problems.append(Problem(("autoscaling", "target"),
                                    "kv-cache-usage is a fraction between 0 and 1", self.autoscaling.target))
        return problems

    def _rollout_problems(self) -> list[Problem]:
        rollout = self.availability.rollout
        if rollout.strategy == RolloutStrategy.RECREATE and self.parallelism.nodes > 1:
            return [Problem(("availability", "rollout", "strategy"), "multi-node replicas (LeaderWorkerSet) only "
                            "roll: use RollingUpdate (the default replaces one group at a time)",
                            rollout.strategy.value)]
        if rollout.strategy != RolloutStrategy.ROLLING_UPDATE:
            return []
        replicas = max(1, self.min_scale)
        surge = resolve_surge(self.max_surge, replicas)
        unavailable = resolve_unavailable(self.max_unavailable, replicas)
        if surge == 0 and unavailable == 0:
            return [Problem(("availability", "rollout"),
                            f"max_surge ({self.max_surge}) and max_unavailable ({self.max_unavailable}) resolve "
                            f"to 0 replicas at {replicas} replica(s); the rollout could never make progress",
                            self.max_unavailable)]
        needed = surge * self.gpus_per_replica
        if needed > self.spare_gpus:
            return [Problem(("availability", "rollout", "max_surge"),
                            f"max_surge {self.max_surge} needs {needed} spare {self.accelerator.type} GPUs during a "
                            f"rollout, but the environment declares {self.spare_gpus} (fleet spare_gpus); the "
                            "surge would stay Pending: use max_surge 0", self.max_surge)]
        return []

    def _storage_problems(self) -> list[Problem]:
        cache = self.storage.model_cache
        mode = cache.shared_access_mode
        if mode not in (AccessMode.READ_WRITE_ONCE, AccessMode.READ_WRITE_ONCE_POD):
            return []
        surges = self.availability.rollout.strategy == RolloutStrategy.ROLLING_UPDATE and \
            resolve_surge(self.max_surge, max(1, self.max_scale)) > 0
        pods = self.max_scale * self.parallelism.nodes
        if pods > 1 or surges:
            field = "access_mode" if cache.type == CacheType.PVC else "claim_access_mode"
            why = f"up to {pods} pods mount it" if pods > 1 else "a surge pod mounts it while the old one runs"
            return [Problem(("storage", "model_cache", field),
                            f"a {mode} volume attaches to one node, but {why}; use ReadWriteMany, "
                            f"ReadOnlyMany or an emptyDir", mode.value)]
        return []

    def _env_problems(self) -> list[Problem]:
        problems = []
        for name, value in sorted(self.env.items()):
            if _SECRET_ENV.search(name):
                problems.append(Problem(("env", name), f"{name} looks like a secret; literal secrets are never "
                                        "rendered: use secret_env (or storage.hf_token_secret, "
                                        "security.api_key_secret)", "<redacted>"))
            elif name in _DEVICE_ENV:
                problems.append(Problem(("env", name), f"{name} bypasses the GPU device plugin; GPUs come "
                                        "from accelerator.count", value))
            elif name in RENDERED_ENV:
                problems.append(Problem(("env", name), f"{name} is set by vllm-infra", value))
        for name in sorted(self.secret_env):
            if name in RENDERED_ENV or name in _DEVICE_ENV or name in self.env:
                problems.append(Problem(("secret_env", name), f"{name} is already set elsewhere", name))
        return problems

    def _capacity_problems(self) -> list[Problem]:
        arch_ref = self.model.architecture
        if isinstance(arch_ref, str) and arch_ref not in MODEL_CATALOG:
            return [Problem(("model", "architecture"), f"unknown architecture '{arch_ref}' (see `vllm-infra models "
                                                        "list`, or give the facts inline)", arch_ref)]
        arch = self.architecture
        if arch is None:
            return []
        par, problems = self.parallelism, []
        if arch.attention_heads % par.tensor:
            problems.append(Problem(("parallelism", "tensor"),
                                    f"{arch.attention_heads} attention heads of {self.model.id} cannot be split "
                                    f"over tensor parallelism {par.tensor}", par.tensor))
        kv_heads, tensor = arch.kv_heads, par.tensor
        kv_split_ok = kv_heads % tensor == 0 if tensor <= kv_heads else tensor % kv_heads == 0
        if not arch.kv_latent_dim and not kv_split_ok:
            problems.append(Problem(("parallelism", "tensor"),
                                    f"{arch.kv_heads} KV heads of {self.model.id} cannot be split or replicated over "
                                    f"tensor parallelism {par.tensor}", par.tensor))
        if self.model.max_model_len and self.model.max_model_len > arch.context_length:
            problems.append(Problem(("model", "max_model_len"),
                                    f"{self.model.id} supports at most {arch.context_length} tokens of context",
                                    self.model.max_model_len))
        if problems:
            return problems
        memory = self.memory_estimate
        if memory is None or memory.fits:
            return []
        return [Problem(("model",), self._misfit(memory), self.model.id)]

    def _misfit(self, memory: MemoryEstimate) -> str:
        """The numbers behind a model that does not fit, and the single changes that would fix it."""
        par, gpu = self.parallelism, memory.gpu
        budget = (f"{gib(memory.budget)} usable per {self.accelerator.type} ({gpu.memory_gib:.1f} GiB x "
                  f"gpu_memory_utilization {self.model.gpu_memory_utilization})")
        where = f"{self.model.id} does not fit on {self.gpus_per_replica} x {self.accelerator.type} (TP={par.tensor}, "\
                f"PP={par.pipeline})"
        if not memory.weights_fit:
            reason = (f"{gib(memory.weights)} of weights plus {gib(memory.overhead)} of runtime overhead per GPU "
                      f"exceed the {budget}")
        else:
            reason = (f"after {gib(memory.weights)} of weights and {gib(memory.overhead)} of overhead, "
                      f"{gib(memory.kv_space)} of KV cache holds {memory.kv_capacity} tokens, fewer than "
                      f"max_model_len {memory.max_model_len} ({memory.kv_per_token / 1024:.0f} KiB per token and GPU)")
        options = self._fit_options(memory)
        fixes = "; ".join(options) if options else "no single change fits: combine them or choose a smaller model"
        return f"{where}: {reason}. Fits with: {fixes}"

    def _fit_options(self, memory: MemoryEstimate) -> list[str]:
        options = []
        arch = self.architecture
        assert arch is not None
        for tensor in (2, 4, 8, 16):
            if tensor <= self.parallelism.tensor or arch.attention_heads % tensor:
                continue
            option = self.memory_on(self.gpu, tensor=tensor)
            if option and option.fits:
                nodes = -(-tensor * self.parallelism.pipeline // self.accelerator.node_capacity)
                options.append(f"parallelism.tensor: {tensor}" + (f" (with parallelism.nodes: {nodes})"
                                                                  if nodes > self.parallelism.nodes else ""))
                break
        bigger = [g for g in sorted(GPU_CATALOG.values(), key=lambda g: g.memory_mib)
                  if g.memory_mib > self.gpu.memory_mib and (option := self.memory_on(g)) and option.fits]
        if bigger:
            options.append(f"accelerator.type: {bigger[0].type}")
        if memory.weights_fit and memory.longest_context >= 1024:
            options.append(f"model.max_model_len: {memory.longest_context}")
        if not self.model.quantization:
            option = self.memory_on(self.gpu, quantization=Quantization.FP8.value)
            if option and option.fits:
                options.append("model.quantization: fp8")
        if self.model.kv_cache_dtype.value == "auto" and memory.weights_fit:
            option = self.memory_on(self.gpu, kv_cache_dtype="fp8")
            if option and option.fits:
                options.append("model.kv_cache_dtype: fp8")
        return options
