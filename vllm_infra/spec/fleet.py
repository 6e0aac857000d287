"""A fleet: one namespace, several model services and the defaults of one environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, field_validator, model_validator

from vllm_infra.catalog.gpus import GpuType
from vllm_infra.spec.base import DnsLabel, Problem, SpecModel, raise_problems
from vllm_infra.spec.cluster import ClusterSpec
from vllm_infra.spec.delivery import DeliverySpec
from vllm_infra.spec.queueing import QueueSpec
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.spec.service import VllmServiceSpec
from vllm_infra.vocabulary.gateway import hostnames_compete
from vllm_infra.vocabulary.kubernetes import (
    DRA_API_VERSION,
    DRA_SINCE,
    KUBERNETES_VERSION,
    SUPPORTED_KUBERNETES_VERSIONS,
    minor_version,
)
from vllm_infra.vocabulary.profiles import (
    ADDED_CAPABILITIES_ADMITTED,
    DISRUPTION_BUDGET_RULE,
    RDMA_CAPABILITY,
    PodSecurityLevel,
    ProfilePolicy,
    policy_of,
)
from vllm_infra.vocabulary.reporting import IMAGE_PINNING_RULE, Profile


def _quoted_version(value: object) -> object:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(f"write the version as a string ('{value}'): YAML reads 1.30 as the number 1.3")
    return value


def _supported_version(value: str) -> str:
    if value not in SUPPORTED_KUBERNETES_VERSIONS:
        raise ValueError(f"Kubernetes {value} is not supported (supported: {SUPPORTED_KUBERNETES_VERSIONS[0]}-"
                         f"{SUPPORTED_KUBERNETES_VERSIONS[-1]}, written as 1.N)")
    return value


KubernetesVersion = Annotated[str, BeforeValidator(_quoted_version), AfterValidator(_supported_version)]

RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


class NamespaceSpec(SpecModel):
    """The namespace every object of the fleet lives in."""

    name: DnsLabel
    """Namespace name; ``default`` and ``kube-*`` are rejected. Required."""

    create: bool = True
    """Render the Namespace object (with Pod Security labels). Default: true."""

    pod_security: PodSecurityLevel = PodSecurityLevel.RESTRICTED
    """Pod Security Standards level to enforce. Default: ``restricted``."""

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NAMESPACES:
            raise ValueError(f"'{value}' is shared with other workloads; use a dedicated namespace")
        return value


def merge_defaults(defaults: Mapping[str, Any], service: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge environment defaults under one service: mappings merge, everything else in the
    service replaces the default."""
    merged: dict[str, Any] = dict(defaults)
    for key, value in service.items():
        base = merged.get(key)
        merged[key] = merge_defaults(base, value) if isinstance(base, Mapping) and isinstance(value, Mapping) \
            else value
    return merged


def _with_spare_gpus(service: dict[str, Any], spare: Mapping[str, Any]) -> dict[str, Any]:
    """Give a service the fleet's spare-GPU count for its GPU type unless it declares its own."""
    accelerator = service.get("accelerator")
    gpu_type = accelerator.get("type") if isinstance(accelerator, Mapping) else None
    if not isinstance(gpu_type, str) or gpu_type not in spare:
        return service
    return merge_defaults({"availability": {"rollout": {"spare_gpus": spare[gpu_type]}}}, service)


def _shared_sections(defaults: Mapping[str, Any]) -> dict[str, SpecModel]:
    """Default sections validated once: services that inherit a whole section share one frozen
    instance instead of validating a copy each (a third of a large fleet's spec memory). A section
    that does not validate alone is left to each service, whose errors carry the usual locations."""
    shared = {}
    for key, value in defaults.items():
        field = VllmServiceSpec.model_fields.get(key)
        model = field.annotation if field is not None else None
        if isinstance(model, type) and issubclass(model, SpecModel) and isinstance(value, Mapping):
            try:
                shared[key] = model.model_validate(value)
            except ValidationError:
                continue
    return shared


def _sharing(service: dict[str, Any], defaults: Mapping[str, Any], shared: Mapping[str, SpecModel],
             ) -> dict[str, Any]:
    """``service`` with each section it took unchanged from ``defaults`` replaced by the shared instance."""
    return {key: shared[key] if key in shared and value is defaults[key] else value for key, value in service.items()}


class FleetSpec(SpecModel):
    """Everything one stack deploys. In the input, an optional ``defaults`` mapping is merged
    under every service (so per-environment differences sit in one reviewable block)."""

    name: DnsLabel = "vllm"
    """Fleet name (``app.kubernetes.io/part-of``). Default: ``vllm``."""

    environment: DnsLabel
    """Environment name such as ``dev``, ``staging`` or ``prod``. Required."""

    namespace: NamespaceSpec
    """Target namespace. Required."""

    spare_gpus: dict[GpuType, int] = Field(default_factory=dict)
    """GPUs per type this environment keeps free so rollouts can start a replacement before
    stopping the old replica (each service's ``availability.rollout.spare_gpus`` default).
    Default: none, or with ``cluster`` derived from it (the GPUs of the type the pools hold at
    their maximum, less what the fleet requests at its maximum scale)."""

    kubernetes_version: KubernetesVersion = KUBERNETES_VERSION
    """Kubernetes minor version of the environment's cluster (1.25-1.37): decides what is rendered
    for it (model images as image volumes from 1.35, else copied by an init container, DRA claims
    from 1.34); recorded in the rendered tree, which ``check`` then judges under it. Default: 1.33."""

    cluster: ClusterSpec | None = None
    """The cluster's node inventory, which ``vllm-infra simulate`` and the policy gate play
    placement, rollouts, drains, zone loss and scale-out on. Default: none (scheduling is judged
    without a cluster and reported as unverified)."""

    queue: QueueSpec | None = None
    """Kueue admission: every serving workload is labelled with this LocalQueue, and with
    ``cluster.cluster_queues`` the simulation admits pods only within the ClusterQueue's GPU quota
    (spare GPUs for rollouts too). Default: none (no Kueue)."""

    delivery: DeliverySpec = DeliverySpec()
    """What applies the stack: ``pulumi``, or Argo CD / Flux reading the synthesized tree (synth
    then also writes their objects under ``<stack>/delivery/``). Default: ``pulumi``."""

    policy_profile: Profile = Profile.RESTRICTED
    """Policy profile the environment is gated with (``vllm-infra check --profile``): ``restricted``
    requires image digests, PodDisruptionBudgets and NetworkPolicies; ``dev`` relaxes them.
    Default: ``restricted``."""

    services: list[VllmServiceSpec] = Field(min_length=1)
    """Model servers. Required (at least one)."""

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        defaults, rest = data.get("defaults", {}), {k: v for k, v in data.items() if k != "defaults"}
        if not isinstance(defaults, Mapping):
            raise ValueError("'defaults' must be a mapping of service fields")
        services = rest.get("services")
        spare_value = rest.get("spare_gpus")
        spare: Mapping[str, Any] = spare_value if isinstance(spare_value, Mapping) else {}
        if isinstance(services, list):
            shared = _shared_sections(defaults)
            rest["services"] = [_sharing(_with_spare_gpus(merge_defaults(defaults, svc), spare), defaults, shared)
                                if isinstance(svc, Mapping) else svc for svc in services]
        return rest

    @model_validator(mode="after")
    def _derive_spare_gpus(self) -> FleetSpec:
        """With an inventory, services that declare no spare GPUs get what the cluster (and under
        Kueue the ClusterQueue's quota) leaves free of their type at the fleet's maximum scale
        (validated again, so surge defaults follow)."""
        if self.cluster is None:
            return self
        if self.spare_gpus:
            raise_problems("FleetSpec", [Problem(("spare_gpus",), "derived from cluster when an inventory is "
                                                 "declared; remove one of them", dict(self.spare_gpus))])
        demand: dict[GpuType, int] = {}
        for unit in (unit for service in self.services for unit in service.units):
            resolved = ResolvedService(unit)
            demand[unit.accelerator.type] = demand.get(unit.accelerator.type, 0) + \
                resolved.gpus_per_replica * resolved.max_scale
        cluster, quota = self.cluster, self.cluster.cluster_queue(self.queue.cluster_queue) if self.queue else None

        def admissible(gpu: GpuType) -> int:
            """GPUs of a type the fleet's pods can hold: the pools' and, under Kueue, the quota's."""
            return min(cluster.gpus(gpu), quota.gpus.get(gpu, 0)) if quota else cluster.gpus(gpu)

        services = []
        for service in self.services:
            if service.availability.rollout.spare_gpus is not None:
                services.append(service)
                continue
            spare = min(max(0, admissible(unit.accelerator.type) - demand.get(unit.accelerator.type, 0))
                        for unit in service.units)  # the scarcer GPU type of a pair's roles
            data = merge_defaults(service.model_dump(exclude_unset=True, by_alias=True),
                                  {"availability": {"rollout": {"spare_gpus": spare}}})
            services.append(VllmServiceSpec.model_validate(data))
        return self.model_copy(update={"services": services})

    def _rdma_problems(self, index: int, policy: ProfilePolicy) -> list[Problem]:
        """RDMA pods add IPC_LOCK: the profile must admit it (VI-SEC-004) and so must the Pod Security
        level the rendered namespace enforces (VI-SEC-016)."""
        where = ("services", index, "disaggregation", "rdma")
        if RDMA_CAPABILITY not in policy.added_capabilities:
            return [Problem(where, f"RDMA memory registration needs {RDMA_CAPABILITY}, which the "
                                   f"{self.policy_profile} profile does not admit (VI-SEC-004): use policy_profile: "
                                   f"{Profile.RDMA}", None)]
        admitted = ADDED_CAPABILITIES_ADMITTED[self.namespace.pod_security]
        if self.namespace.create and admitted is not None and RDMA_CAPABILITY not in admitted:
            return [Problem(where, f"the namespace enforces the {self.namespace.pod_security} Pod Security level, "
                                   f"which refuses {RDMA_CAPABILITY} (VI-SEC-016): set namespace.pod_security: "
                                   f"{PodSecurityLevel.PRIVILEGED}", None)]
        return []

    @model_validator(mode="after")
    def _profile_requirements(self) -> FleetSpec:
        """What the profile's rules require of every service, so that synth never writes what
        ``check --profile`` refuses (read from the profile's descriptor, as the rules read it)."""
        policy = policy_of(self.policy_profile)
        problems = []
        levels = policy.namespace_levels
        if levels and self.namespace.create and self.namespace.pod_security not in levels:
            problems.append(Problem(("namespace", "pod_security"), f"the {self.policy_profile} profile enforces the "
                                    f"{' or '.join(sorted(levels))} Pod Security level on the namespace (VI-SEC-016)",
                                    self.namespace.pod_security.value))
        for index, service in enumerate(self.services):
            loading = service.loading
            if policy.requires_digests and loading.image is not None and not loading.image_pinned:
                problems.append(Problem(("services", index, "loading", "image"), f"the {self.policy_profile} profile "
                                        f"pins images by digest ({IMAGE_PINNING_RULE}), model images too: add "
                                        "@sha256:<digest>", loading.image))
            if policy.requires_digests and service.image.digest is None and service.image.unpinned_reason is None:
                problems.append(Problem(("services", index, "image", "digest"), f"the {self.policy_profile} profile "
                                        f"pins images by digest ({IMAGE_PINNING_RULE}); set image.digest (or say why "
                                        "not in image.unpinned_reason), or policy_profile: dev", None))
            for unit in service.units if policy.applies(DISRUPTION_BUDGET_RULE) else ():
                if not unit.resolved.disruption_budget_enabled:
                    where = ("availability", "disruption_budget", "enabled") if unit is service else (
                        "disaggregation", str(unit.role), "replicas")
                    problems.append(Problem(("services", index, *where), f"the {self.policy_profile} profile requires "
                                            f"a PodDisruptionBudget ({DISRUPTION_BUDGET_RULE})"
                                            + ("" if unit is service else f" on {unit.name}"), False))
            if not service.network_policy.enabled:
                problems.append(Problem(("services", index, "network_policy", "enabled"), "every profile requires a "
                                        "NetworkPolicy around vLLM pods (VI-NET-001)", False))
            rdma = service.disaggregation.rdma if service.disaggregation else None
            if rdma is not None:
                problems += self._rdma_problems(index, policy)
            router = service.disaggregation.router if service.disaggregation else None
            for component in ("endpoint_picker", "sidecar") if router and policy.requires_digests else ():
                image = getattr(router, component)
                if image.digest is None and image.unpinned_reason is None:
                    problems.append(Problem(("services", index, "disaggregation", "router", component, "digest"),
                                            f"the {self.policy_profile} profile pins images by digest "
                                            f"({IMAGE_PINNING_RULE}); set its digest (or say why not in "
                                            "unpinned_reason)", None))
        raise_problems("FleetSpec", problems)
        return self

    @model_validator(mode="after")
    def _claims_are_served(self) -> FleetSpec:
        """DRA's GA API exists from Kubernetes 1.34: a claim on an older cluster is refused."""
        if minor_version(self.kubernetes_version) >= minor_version(DRA_SINCE):
            return self
        raise_problems("FleetSpec", [Problem(("services", index, "accelerator", "claim"), f"DRA claims "
                                             f"({DRA_API_VERSION}) need Kubernetes {DRA_SINCE} or later; the fleet's "
                                             f"kubernetes_version is {self.kubernetes_version}", True)
                                     for index, service in enumerate(self.services)
                                     if any(unit.accelerator.claim for unit in service.units)])
        return self

    @model_validator(mode="after")
    def _queue_is_declared(self) -> FleetSpec:
        """With ClusterQueues in the inventory, the fleet's queue must name one of them (Kueue never
        admits through a LocalQueue whose ClusterQueue does not exist)."""
        queues = self.cluster.cluster_queues if self.cluster else []
        if self.queue and queues and self.cluster and self.cluster.cluster_queue(self.queue.cluster_queue) is None:
            raise_problems("FleetSpec", [Problem(("queue", "cluster_queue"), "not among cluster.cluster_queues ("
                                                 f"{', '.join(queue.name for queue in queues)})",
                                                 self.queue.cluster_queue)])
        return self

    @model_validator(mode="after")
    def _routes_do_not_collide(self) -> FleetSpec:
        """Two services routed through one Gateway listener on equally specific hostnames must not claim
        the same path prefix: the Gateway would send both models' requests to one of them (VI-NET-007)."""
        claimed: dict[tuple[str, str, str, str], list[tuple[int, list[str]]]] = {}
        problems = []
        for index, service in enumerate(self.services):
            routing = service.routing
            if routing.gateway is None:
                continue
            key = (routing.gateway.namespace or self.namespace.name, routing.gateway.name,
                   routing.gateway.section_name or "", routing.path_prefix)
            for other, hostnames in claimed.get(key, []):
                if hostnames_compete(routing.hostnames, hostnames):
                    problems.append(Problem(("services", index, "routing", "path_prefix"), "services"
                                            f"[{other}] ({self.services[other].name}) already routes this path prefix "
                                            f"on Gateway {key[0]}/{key[1]} for the same hostnames (VI-NET-007); "
                                            "give one of them its own routing.path_prefix or routing.hostnames",
                                            routing.path_prefix))
            claimed.setdefault(key, []).append((index, list(routing.hostnames)))
        raise_problems("FleetSpec", problems)
        return self

    @field_validator("services")
    @classmethod
    def _unique_names(cls, services: list[VllmServiceSpec]) -> list[VllmServiceSpec]:
        seen: dict[str, int] = {}
        problems = []
        for index, service in enumerate(services):
            names = [service.name, *(unit.name for unit in service.units if unit is not service)]
            if service.disaggregation is not None:
                names.append(f"{service.name}-epp")
            for name in names:
                if name in seen:
                    first = seen[name]
                    problems.append(Problem((index, "name"), f"duplicate service name (also services[{first}])"
                                            if name == service.name else f"{name}, a name this service renders, is "
                                            f"also one of services[{first}]", service.name))
                seen.setdefault(name, index)
        raise_problems("FleetSpec", problems)
        return services
