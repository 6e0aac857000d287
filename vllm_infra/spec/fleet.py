"""A fleet: one namespace, several model services and the defaults of one environment."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from vllm_infra.spec.base import DnsLabel, Problem, SpecModel, raise_problems
from vllm_infra.spec.service import VllmServiceSpec

RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


class PodSecurityLevel(StrEnum):
    """Pod Security Standards level enforced on the namespace."""

    RESTRICTED = "restricted"
    BASELINE = "baseline"
    PRIVILEGED = "privileged"


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


class FleetSpec(SpecModel):
    """Everything one stack deploys. In the input, an optional ``defaults`` mapping is merged
    under every service (so per-environment differences sit in one reviewable block)."""

    name: DnsLabel = "vllm"
    """Fleet name (``app.kubernetes.io/part-of``). Default: ``vllm``."""

    environment: DnsLabel
    """Environment name such as ``dev``, ``staging`` or ``prod``. Required."""

    namespace: NamespaceSpec
    """Target namespace. Required."""

    services: list[VllmServiceSpec] = Field(min_length=1)
    """Model servers. Required (at least one)."""

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "defaults" not in data:
            return data
        defaults, rest = data["defaults"], {k: v for k, v in data.items() if k != "defaults"}
        if not isinstance(defaults, Mapping):
            raise ValueError("'defaults' must be a mapping of service fields")
        services = rest.get("services")
        if isinstance(services, list):
            rest["services"] = [merge_defaults(defaults, svc) if isinstance(svc, Mapping) else svc
                                for svc in services]
        return rest

    @field_validator("services")
    @classmethod
    def _unique_names(cls, services: list[VllmServiceSpec]) -> list[VllmServiceSpec]:
        seen: dict[str, int] = {}
        problems = []
        for index, service in enumerate(services):
            if service.name in seen:
                first = seen[service.name]
                problems.append(Problem((index, "name"), f"duplicate service name (also services[{first}])",
                                        service.name))
            seen.setdefault(service.name, index)
        raise_problems("FleetSpec", problems)
        return services
