"""The root of one model server's declaration: its sections, checked together once each is valid."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vllm_infra.spec.accelerator import AcceleratorSpec, ParallelismSpec
from vllm_infra.spec.autoscaling import AUTOSCALING_BACKENDS, AutoscalingSpec
from vllm_infra.spec.availability import AvailabilitySpec
from vllm_infra.spec.base import EnvName, Problem, SecretKeyRef, SpecModel, raise_problems, without_union_tags
from vllm_infra.spec.checks import MAX_SERVICE_NAME, disaggregation_problems, service_problems
from vllm_infra.spec.disaggregation import DisaggregationSpec, PdRole
from vllm_infra.spec.exposure import MetricsSpec, NetworkPolicySpec, SecuritySpec, ServiceSpec
from vllm_infra.spec.image import ImageSpec
from vllm_infra.spec.lifecycle import LifecycleSpec
from vllm_infra.spec.loading import LoadingSpec
from vllm_infra.spec.lora import LoraSpec
from vllm_infra.spec.model import ModelSpec
from vllm_infra.spec.patches import ObjectPatch
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.spec.resources import ResourcesSpec
from vllm_infra.spec.routing import RoutingSpec
from vllm_infra.spec.scheduling import SchedulingSpec
from vllm_infra.spec.storage import StorageSpec

ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$",
                                              max_length=MAX_SERVICE_NAME)]
ROLE_CONTEXT = "vllm-infra.role-of"
"""Validation-context key under which a disaggregated service validates its roles."""


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

    loading: LoadingSpec = LoadingSpec()
    """How the weights reach the GPUs: downloaded by vLLM at start, prefetched once by a Job into the
    shared cache, an OCI model image, or streamed from S3. Default: downloaded at start."""

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

    lora: LoraSpec | None = None
    """LoRA adapters served beside the base model (``--enable-lora``). Default: none."""

    env: dict[EnvName, str] = Field(default_factory=dict)
    """Extra plain environment variables. Secret-looking names are rejected (use ``secret_env``).
    Default: none."""

    secret_env: dict[EnvName, SecretKeyRef] = Field(default_factory=dict)
    """Extra environment variables read from Secrets. Default: none."""

    patches: list[ObjectPatch] = Field(default_factory=list)
    """JSON patches applied to the rendered objects (escape hatch; policies run afterwards).
    Default: none."""

    disaggregation: DisaggregationSpec | None = None
    """Serve prefill and decode on separate pods (``<name>-prefill``, ``<name>-decode``) that pass
    the KV cache over vLLM's NixlConnector, behind an InferencePool and llm-d's endpoint picker.
    Each role is a service of its own in every proof (memory fit, probes, rollouts, drains, cost).
    Default: none (one role serves both)."""

    role: PdRole | None = None
    """The role of a service ``disaggregation`` derives; not written in stack files. Default: none."""

    _units: tuple[VllmServiceSpec, ...] = PrivateAttr(default=())
    _pair: DisaggregationSpec | None = PrivateAttr(default=None)

    @property
    def units(self) -> tuple[VllmServiceSpec, ...]:
        """The services that run pods: the prefill and decode roles of a disaggregated service,
        else the service itself."""
        return self._units or (self,)

    @property
    def pair(self) -> DisaggregationSpec | None:
        """On a role: the ``disaggregation`` of the service it belongs to (connector, router)."""
        return self._pair

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

    @field_validator("role")
    @classmethod
    def _derived_only(cls, value: PdRole | None, info: ValidationInfo) -> PdRole | None:
        if value is not None and not (info.context or {}).get(ROLE_CONTEXT):
            raise ValueError("set by disaggregation on the roles it derives; declare disaggregation instead")
        return value

    @model_validator(mode="after")
    def _check(self) -> VllmServiceSpec:
        if self.disaggregation is None:
            raise_problems("VllmServiceSpec", service_problems(self.resolved))
            return self
        raise_problems("VllmServiceSpec", disaggregation_problems(self.resolved))
        self._units = tuple(_role(self, role) for role in PdRole)  # each role runs every service check
        return self


def _role(service: VllmServiceSpec, role: PdRole) -> VllmServiceSpec:
    """One role of a disaggregated service: the service's fields with the role's overrides, named
    ``<name>-<role>``; its problems are reported under ``disaggregation.<role>``."""
    assert service.disaggregation is not None
    overrides = getattr(service.disaggregation, role.value)
    data = service.model_dump(mode="python", exclude_unset=True, exclude={"disaggregation", "routing", "autoscaling"})
    data.update(name=f"{service.name}-{role.value}", role=role.value)
    for section in ("accelerator", "parallelism", "resources", "autoscaling"):
        value = getattr(overrides, section)
        if value is not None:
            data[section] = value.model_dump(mode="python", exclude_unset=True)
    if overrides.autoscaling is not None:
        data["autoscaling"]["backend"] = overrides.autoscaling.backend  # the union's tag, set or defaulted
    if overrides.autoscaling is None:
        data.setdefault("availability", {})["replicas"] = overrides.replicas * service.disaggregation.slices
    if overrides.extra_args:
        model = data.setdefault("model", {})
        model["extra_args"] = {**model.get("extra_args", {}), **overrides.extra_args}
    try:
        unit = VllmServiceSpec.model_validate(data, context={ROLE_CONTEXT: service.name})
        unit._pair = service.disaggregation
        return unit
    except ValidationError as exc:
        raise_problems("VllmServiceSpec", [Problem(("disaggregation", role.value, *error["loc"]), error["msg"],
                                                   error.get("input")) for error in exc.errors()])
        raise
