"""Serving units: the sets of replicas one controller scales and rolls out. A Deployment,
StatefulSet or LeaderWorkerSet is one; each role of an LWS DisaggregatedSet is one (the
LeaderWorkerSet its controller creates), so availability, rollouts and the simulation judge a
role as they judge a workload."""

from __future__ import annotations

from dataclasses import dataclass

from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.reading.objects import Manifest, dig, name_of, namespace_of
from vllm_infra.checker.reading.scaling import max_replicas, min_replicas
from vllm_infra.checker.reading.server import serving_container
from vllm_infra.checker.reading.templates import PodTemplate, disaggregated_roles
from vllm_infra.vocabulary.kubernetes import (
    DISAGGREGATED_SET,
    DISAGGREGATED_SET_ROLE_SCALER,
    SERVING_KINDS,
    group_kind,
)
from vllm_infra.vocabulary.paths import FieldPath


@dataclass(frozen=True)
class ServingUnit:
    """One scalable set of replicas inside an object."""

    obj: Manifest
    templates: tuple[PodTemplate, ...]
    role: str | None = None
    """The DisaggregatedSet role (None: the object is the unit)."""
    path: FieldPath = ("spec",)
    """Where the unit's spec is (``spec.roles[i].spec`` for a role)."""

    @property
    def name(self) -> str:
        """The object's name, and ``/role`` for a role."""
        return name_of(self.obj) + (f"/{self.role}" if self.role else "")

    @property
    def runs_vllm(self) -> bool:
        """Whether a template of the unit has a vLLM container."""
        return any(serving_container(template) is not None for template in self.templates)


def units_of(obj: Manifest, bundle: Bundle) -> list[ServingUnit]:
    """The serving units of one object (none for kinds that are not scaled replicas)."""
    kind = obj.get("kind")
    if not isinstance(kind, str):
        return []  # not an object of any kind: the schema rules report it
    if kind in SERVING_KINDS:
        return [ServingUnit(obj, bundle.templates_of(obj))]
    if group_kind(obj) != DISAGGREGATED_SET:
        return []
    templates = bundle.templates_of(obj)
    return [ServingUnit(obj, tuple(t for t in templates if t.path[:3] == ("spec", "roles", index)), role,
                        ("spec", "roles", index, "spec")) for index, role in disaggregated_roles(obj)]


def serving_units(bundle: Bundle) -> list[ServingUnit]:
    """Every unit of the bundle, in input order."""
    return [unit for obj in bundle.objects for unit in units_of(obj, bundle)]


def role_scalers(unit: ServingUnit, bundle: Bundle) -> list[Manifest]:
    """The autoscalers of a role scaled externally: those targeting its DisaggregatedSetRoleScaler
    (none for other units)."""
    if unit.role is None or dig(unit.obj, *unit.path[:-1], "scaling", "mode", default="Static") != "External":
        return []
    target = {"kind": DISAGGREGATED_SET_ROLE_SCALER,
              "metadata": {"namespace": namespace_of(unit.obj), "name": f"{name_of(unit.obj)}-{unit.role}"}}
    return bundle.autoscalers_of(target)


def role_scaler_names(bundle: Bundle) -> set[tuple[str, str]]:
    """(namespace, name) of the DisaggregatedSetRoleScaler each externally scaled role gets."""
    return {(namespace_of(unit.obj), f"{name_of(unit.obj)}-{unit.role}") for unit in serving_units(bundle)
            if unit.role is not None and
            dig(unit.obj, *unit.path[:-1], "scaling", "mode", default="Static") == "External"}


def scale_range(unit: ServingUnit, bundle: Bundle) -> tuple[int, int]:
    """(minimum, maximum) replicas of the unit: a workload's autoscalers, else ``spec.replicas``; a
    role's ``replicas`` in each of the set's slices, or the range of the autoscalers driving its
    DisaggregatedSetRoleScaler."""
    if unit.role is None:
        low = bundle.minimum_scale(unit.obj)
        return low, max([low, *(max_replicas(scaler) for scaler in bundle.autoscalers_of(unit.obj))])
    scalers = role_scalers(unit, bundle)
    if scalers:
        low = min(min_replicas(scaler) for scaler in scalers)
        return low, max([low, *(max_replicas(scaler) for scaler in scalers)])
    replicas, slices = dig(unit.obj, *unit.path, "replicas", default=1), dig(unit.obj, "spec", "slices", default=1)
    count = (replicas if type(replicas) is int else 1) * (slices if type(slices) is int and slices > 0 else 1)
    return count, count


def minimum_scale(unit: ServingUnit, bundle: Bundle) -> int:
    """Replicas at the unit's minimum scale (see ``scale_range``)."""
    return scale_range(unit, bundle)[0]
