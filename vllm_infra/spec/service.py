"""The root of one model server's declaration: its sections, checked together once each is valid."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ModelWrapValidatorHandler, StringConstraints, ValidationError, model_validator

from vllm_infra.spec.accelerator import AcceleratorSpec, ParallelismSpec
from vllm_infra.spec.autoscaling import AUTOSCALING_BACKENDS, AutoscalingSpec
from vllm_infra.spec.availability import AvailabilitySpec
from vllm_infra.spec.base import EnvName, SecretKeyRef, SpecModel, raise_problems, without_union_tags
from vllm_infra.spec.checks import service_problems
from vllm_infra.spec.exposure import MetricsSpec, NetworkPolicySpec, SecuritySpec, ServiceSpec
from vllm_infra.spec.image import ImageSpec
from vllm_infra.spec.lifecycle import LifecycleSpec
from vllm_infra.spec.model import ModelSpec
from vllm_infra.spec.patches import ObjectPatch
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.spec.resources import ResourcesSpec
from vllm_infra.spec.routing import RoutingSpec
from vllm_infra.spec.scheduling import SchedulingSpec
from vllm_infra.spec.storage import StorageSpec

ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", max_length=40)]


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

    parallelism: ParallelismSpec = ParallelismSpec()
    """Tensor/pipeline parallelism and nodes per replica. Default: 1 GPU, 1 node."""

    scheduling: SchedulingSpec = Field(default_factory=SchedulingSpec)
    """Placement. Default: GPU-type affinity, GPU taint toleration, preferred spread."""

    availability: AvailabilitySpec = AvailabilitySpec()
    """Replicas, rollout and disruption budget. Default: 1 replica, no surge, a PDB allowing one
    disruption."""

    lifecycle: LifecycleSpec = LifecycleSpec()
    """Probes and graceful drain. Default: startup budget from model size, 15s + 60s drain."""

    storage: StorageSpec = StorageSpec()
    """``/dev/shm``, ``/tmp``, model cache and HF token. Default: sized from GPUs, emptyDir cache."""

    resources: ResourcesSpec = ResourcesSpec()
    """CPU and host memory. Default: derived from GPUs and model size."""

    service: ServiceSpec = Field(default_factory=ServiceSpec)
    """ClusterIP Service. Default: port 8000."""

    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    """Prometheus scraping. Default: scrape annotations, no ServiceMonitor."""

    network_policy: NetworkPolicySpec = Field(default_factory=NetworkPolicySpec)
    """Default-deny NetworkPolicy. Default: rendered (API from the namespace, metrics from
    ``monitoring``)."""

    security: SecuritySpec = SecuritySpec()
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

    @property
    def resolved(self) -> ResolvedService:
        """This service with every default resolved (what render and plan read; take it once per
        use). A new view each time: cached on the spec, view and spec would form a reference cycle
        that only a full garbage collection frees, holding a large fleet's spec through the gate."""
        return ResolvedService(self)

    @model_validator(mode="wrap")
    @classmethod
    def _locate_without_backend_tags(cls, data: Any, handler: ModelWrapValidatorHandler[VllmServiceSpec],
                                     ) -> VllmServiceSpec:
        try:
            return handler(data)
        except ValidationError as exc:
            raise without_union_tags(exc, cls.__name__, "autoscaling", AUTOSCALING_BACKENDS) from None

    @model_validator(mode="after")
    def _check(self) -> VllmServiceSpec:
        raise_problems("VllmServiceSpec", service_problems(self.resolved))
        return self
