"""Gateway API Inference Extension: an InferencePool over the model's pods and an HTTPRoute."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from vllm_infra.spec.base import DnsLabel, Int32, Problem, SpecModel, raise_problems

Hostname = Annotated[str, StringConstraints(pattern=r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*"
                                                    r"[a-z0-9])?)*$")]


class FailureMode(StrEnum):
    """What the gateway does when the endpoint picker is unavailable."""

    FAIL_CLOSE = "FailClose"
    FAIL_OPEN = "FailOpen"


class GatewayRef(SpecModel):
    """The Gateway the HTTPRoute attaches to."""

    name: DnsLabel
    """Gateway name. Required."""

    namespace: DnsLabel | None = None
    """Gateway namespace (its listener must allow routes from this namespace). Default: the
    service's namespace."""

    section_name: DnsLabel | None = None
    """Listener to attach to. Default: every listener that admits the route."""


class RoutingSpec(SpecModel):
    """Optional model-aware routing through the Gateway API Inference Extension."""

    inference_pool: bool = False
    """Render an InferencePool selecting this model's serving pods. Default: false."""

    endpoint_picker: DnsLabel | None = None
    """Service name of the endpoint picker (EPP) deployed with the gateway. Default: none (required
    with ``inference_pool``)."""

    endpoint_picker_port: Int32 = Field(default=9002, ge=1, le=65535)
    """gRPC port of the endpoint picker. Default: 9002."""

    failure_mode: FailureMode = FailureMode.FAIL_CLOSE
    """Behaviour when the endpoint picker is down. Default: ``FailClose``."""

    gateway: GatewayRef | None = None
    """Gateway to attach an HTTPRoute to. Default: none (no HTTPRoute)."""

    hostnames: list[Hostname] = Field(default_factory=list)
    """Hostnames the route serves. Default: all of the listener's."""

    path_prefix: Annotated[str, StringConstraints(pattern=r"^/\S*$")] = "/"
    """Path prefix the route matches. Default: ``/``."""

    @model_validator(mode="after")
    def _check(self) -> RoutingSpec:
        problems = []
        if self.inference_pool and self.endpoint_picker is None:
            problems.append(Problem(("endpoint_picker",), "an InferencePool needs the endpoint picker's Service "
                                    "name", None))
        if not self.inference_pool and self.endpoint_picker is not None:
            problems.append(Problem(("endpoint_picker",), "only used with inference_pool: true", self.endpoint_picker))
        if self.gateway is None and (self.hostnames or "path_prefix" in self.model_fields_set):
            problems.append(Problem(("gateway",), "hostnames and path_prefix need a gateway to attach the route to",
                                    None))
        raise_problems("RoutingSpec", problems)
        return self
