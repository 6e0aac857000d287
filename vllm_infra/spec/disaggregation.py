"""Prefill/decode disaggregation: one model served by a prefill role and a decode role that pass
the KV cache between them (vLLM's NixlConnector), behind llm-d's endpoint picker, which sends each
request's prefill to one role and its decode to the other (the decode pod's routing sidecar asks
the chosen prefill pod first)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from vllm_infra.catalog.router import EPP_IMAGE, SIDECAR_IMAGE, RouterRelease
from vllm_infra.catalog.vllm import NIXL_CONNECTOR, NIXL_SIDE_CHANNEL_PORT
from vllm_infra.spec.accelerator import AcceleratorSpec, ParallelismSpec
from vllm_infra.spec.autoscaling import AutoscalingSpec
from vllm_infra.spec.base import DnsLabel, Int32, QualifiedName, SpecModel
from vllm_infra.spec.model import FlagName
from vllm_infra.spec.resources import ResourcesSpec


class PdRole(StrEnum):
    """A role of a disaggregated service (the ``llm-d.ai/role`` label value)."""

    PREFILL = "prefill"
    DECODE = "decode"


class PdWorkload(StrEnum):
    """What runs the roles' pods."""

    DEPLOYMENTS = "deployments"
    """A Deployment per role (a LeaderWorkerSet when the role spans nodes), as llm-d deploys them."""
    DISAGGREGATED_SET = "disaggregated-set"
    """One LWS DisaggregatedSet (``disaggregatedset.x-k8s.io/v1``, LWS v0.9.0 or later): its
    controller creates a LeaderWorkerSet per role and rolls both roles out together."""


class KvConnector(StrEnum):
    """vLLM's KV-transfer connector between the roles (``--kv-transfer-config``)."""

    NIXL = NIXL_CONNECTOR


class RdmaSpec(SpecModel):
    """An RDMA device for every pod of both roles, so UCX moves the KV cache over InfiniBand or
    RoCE instead of TCP. Registering GPU memory with the NIC needs ``IPC_LOCK``, which only the
    ``rdma`` policy profile admits, in a namespace that enforces the privileged Pod Security level."""

    resource: QualifiedName
    """The device plugin's extended resource (``rdma/ib``, ``rdma/rdma_shared_device_a``,
    ``nvidia.com/hostdev``...). Required."""

    count: Int32 = Field(default=1, gt=0)
    """Devices per pod. Default: 1."""


class RoleSpec(SpecModel):
    """What one role changes of the service it belongs to."""

    accelerator: AcceleratorSpec | None = None
    """GPU type and count of this role's pods. Default: the service's ``accelerator``."""

    parallelism: ParallelismSpec | None = None
    """Tensor/pipeline parallelism of this role. Default: the service's ``parallelism``."""

    replicas: Int32 = Field(default=1, gt=0)
    """Pods of this role without an autoscaler. Default: 1."""

    autoscaling: AutoscalingSpec | None = None
    """Autoscaler of this role. Default: none (fixed ``replicas``)."""

    resources: ResourcesSpec | None = None
    """CPU and host memory of this role's pods. Default: the service's ``resources``."""

    extra_args: dict[FlagName, str | int | float | bool] = Field(default_factory=dict)
    """Engine flags for this role only, over the service's ``model.extra_args`` (prefill often
    batches more tokens: ``max-num-batched-tokens``). Default: none."""


class ComponentImage(SpecModel):
    """An llm-d component image; its tag is the router release."""

    repository: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+([._/:-][a-z0-9]+)*$")]
    """Image repository (a mirror of the upstream one). Required."""

    digest: Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None
    """Content digest ``sha256:...``. Default: none (then policy asks for ``unpinned_reason``)."""

    unpinned_reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                      max_length=500)] | None = None
    """Why the image has no digest; rendered as the waiver of VI-IMG-001 on the object that runs it.
    Default: none."""

    def reference(self, release: RouterRelease) -> str:
        """``repository:release@digest`` as the kubelet pulls it."""
        return f"{self.repository}:{release}" + (f"@{self.digest}" if self.digest else "")


class RouterSpec(SpecModel):
    """The routing control plane of the pair: llm-d's endpoint picker and the decode sidecar."""

    release: RouterRelease = RouterRelease.V0_8_0
    """llm-d inference scheduler release (plugin names and flags follow it). Default: ``v0.8.0``."""

    endpoint_picker: ComponentImage = ComponentImage(repository=EPP_IMAGE)
    """The endpoint picker's image. Default: ``ghcr.io/llm-d/llm-d-inference-scheduler`` (also when
    only its digest or reason is given)."""

    sidecar: ComponentImage = ComponentImage(repository=SIDECAR_IMAGE)
    """The decode pods' routing sidecar image. Default: ``ghcr.io/llm-d/llm-d-routing-sidecar``."""

    objectives: dict[DnsLabel, Int32] = Field(default_factory=dict)
    """``InferenceObjective`` name -> priority (higher is served first under load); clients name
    one in the ``x-gateway-inference-objective`` header. Default: none."""

    @model_validator(mode="before")
    @classmethod
    def _upstream_repositories(cls, data: Any) -> Any:
        """A component given without ``repository`` (only a digest or a reason) keeps the upstream one."""
        if not isinstance(data, Mapping):
            return data
        filled = dict(data)
        for key, repository in (("endpoint_picker", EPP_IMAGE), ("sidecar", SIDECAR_IMAGE)):
            if isinstance(filled.get(key), Mapping) and "repository" not in filled[key]:
                filled[key] = {**filled[key], "repository": repository}
        return filled


class DisaggregationSpec(SpecModel):
    """A prefill role and a decode role, the connector between them and the router in front."""

    workload: PdWorkload = PdWorkload.DEPLOYMENTS
    """What runs the roles: ``deployments`` (one per role) or one ``disaggregated-set``, whose
    roles have fixed replicas (a role autoscaler would drive a DisaggregatedSetRoleScaler, not
    rendered yet). Default: ``deployments``."""

    connector: KvConnector = KvConnector.NIXL
    """KV-transfer connector. Default: ``NixlConnector``."""

    slices: Int32 = Field(default=1, ge=1, le=100)
    """With ``workload: disaggregated-set``: independent copies of the whole prefill/decode topology
    (``spec.slices``), each with every role's ``replicas``, rolled out and recovered on its own.
    Default: 1."""

    rdma: RdmaSpec | None = None
    """An RDMA device per pod for the KV transfer (see ``RdmaSpec``). Default: none (UCX over TCP)."""

    side_channel_port: Int32 = Field(default=NIXL_SIDE_CHANNEL_PORT, ge=1024, le=65535)
    """Port where each engine publishes its KV cache's address (``VLLM_NIXL_SIDE_CHANNEL_PORT``).
    Default: 5600."""

    prefill: RoleSpec = RoleSpec()
    """The prefill role. Default: the service's GPUs and parallelism, one pod."""

    decode: RoleSpec = RoleSpec()
    """The decode role. Default: the service's GPUs and parallelism, one pod."""

    router: RouterSpec = RouterSpec()
    """Endpoint picker and routing sidecar. Default: llm-d v0.8.0 images, no objectives."""
