"""The root of one model server's declaration and the checks that span its sections."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from vllm_infra.catalog.gpus import GpuModel
from vllm_infra.spec.accelerator import AcceleratorSpec, ParallelismSpec
from vllm_infra.spec.autoscaling import DEFAULT_TARGETS, AutoscalingSpec, ScalingMetric
from vllm_infra.spec.availability import AvailabilitySpec, RolloutStrategy, resolve_surge, resolve_unavailable
from vllm_infra.spec.base import EnvName, Problem, SecretKeyRef, SpecModel, raise_problems
from vllm_infra.spec.exposure import MetricsSpec, NetworkPolicySpec, SecuritySpec, ServiceSpec
from vllm_infra.spec.image import ImageSpec
from vllm_infra.spec.lifecycle import LifecycleSpec
from vllm_infra.spec.model import Dtype, ModelSpec
from vllm_infra.spec.patches import ObjectPatch
from vllm_infra.spec.resources import ResourcesSpec
from vllm_infra.spec.scheduling import SchedulingSpec
from vllm_infra.spec.storage import AccessMode, CacheType, StorageSpec
from vllm_infra.units import gib_to_bytes, parse_quantity

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
CPU_PER_GPU = 4
CACHE_DEFAULT_GIB = 100


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
    def startup_budget(self) -> int:
        """Seconds from container start to serving."""
        return self.lifecycle.startup_timeout or DEFAULT_STARTUP_SECONDS

    @property
    def await_budget(self) -> int:
        """Seconds a deployment tool should wait for the workload: pull + startup."""
        return self.lifecycle.image_pull_timeout + self.startup_budget

    @property
    def shm_bytes(self) -> int:
        """Size of ``/dev/shm``."""
        if self.storage.shm_size:
            return int(parse_quantity(self.storage.shm_size))
        gib = min(MAX_SHM_GIB, max(MIN_SHM_GIB, SHM_GIB_PER_GPU * self.gpus_per_pod))
        return gib_to_bytes(gib)

    @property
    def process_memory_bytes(self) -> int:
        """Host memory for the vLLM processes (excluding ``/dev/shm``)."""
        if self.resources.memory:
            return int(parse_quantity(self.resources.memory))
        return gib_to_bytes(MEMORY_GIB_PER_GPU * self.gpus_per_pod)

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
        """Size of the cache volume (None for an existing claim)."""
        cache = self.storage.model_cache
        if cache.type == CacheType.EXISTING_CLAIM:
            return None
        if cache.size:
            return int(parse_quantity(cache.size))
        return gib_to_bytes(CACHE_DEFAULT_GIB)

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
        raise_problems("VllmServiceSpec", problems)
        return self

    def _parallelism_problems(self) -> list[Problem]:
        par, acc = self.parallelism, self.accelerator
        if par.nodes > 1:
            return [Problem(("parallelism", "nodes"), "multi-node replicas (LeaderWorkerSet) are not supported "
                            "yet; use a GPU type with enough GPUs per node", par.nodes)]
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
        rollout = avail.rollout
        if rollout.strategy == RolloutStrategy.ROLLING_UPDATE:
            surge = resolve_surge(rollout.max_surge, self.min_scale)
            unavailable = resolve_unavailable(rollout.max_unavailable, self.min_scale)
            if surge == 0 and unavailable == 0:
                problems.append(Problem(("availability", "rollout"),
                                        f"max_surge ({rollout.max_surge}) and max_unavailable "
                                        f"({rollout.max_unavailable}) resolve to 0 pods at {self.min_scale} "
                                        f"replica(s); the rollout could never make progress",
                                        rollout.max_unavailable))
        if self.autoscaling and self.autoscaling.metric == ScalingMetric.KV_CACHE_USAGE \
                and (self.autoscaling.target or 0) > 1:
            problems.append(Problem(("autoscaling", "target"),
                                    "kv-cache-usage is a fraction between 0 and 1", self.autoscaling.target))
        return problems

    def _storage_problems(self) -> list[Problem]:
        cache = self.storage.model_cache
        mode = cache.shared_access_mode
        if mode not in (AccessMode.READ_WRITE_ONCE, AccessMode.READ_WRITE_ONCE_POD):
            return []
        rollout = self.availability.rollout
        surges = rollout.strategy == RolloutStrategy.ROLLING_UPDATE and \
            resolve_surge(rollout.max_surge, self.max_scale) > 0
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
