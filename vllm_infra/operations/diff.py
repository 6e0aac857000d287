"""What a change to the stacks does, per stack: objects added, removed and changed (field by field,
and whether a change forces a replacement), and the consequences: GPUs per type at minimum and
maximum scale, the memory-fit verdict and KV-cache tokens per service, the monthly cost, the policy
findings added and resolved, and the scheduling verdicts where an inventory exists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vllm_infra.checker.pipeline import Status
from vllm_infra.checker.runner import check_objects
from vllm_infra.checker.simulation.scenarios import simulate_manifests
from vllm_infra.operations.plan import ServicePlan, plan_fleet
from vllm_infra.operations.simulate import cluster_of
from vllm_infra.render import Manifest
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.vocabulary.kubernetes import IMMUTABLE_FIELDS
from vllm_infra.vocabulary.waivers import waivers_in

ABSENT = "(absent)"
"""How a field that one side does not have is shown."""


@dataclass(frozen=True)
class StackSide:
    """One side of the comparison: the validated fleet and its rendered objects, or why not."""

    fleet: FleetSpec | None
    objects: Sequence[Manifest]
    problem: str | None = None


@dataclass(frozen=True)
class FieldChange:
    """One changed field, as a readable path with the value before and after."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ObjectChange:
    """One object added, removed or changed."""

    kind: str
    namespace: str
    name: str
    status: str
    """``added``, ``removed`` or ``changed``."""
    fields: tuple[FieldChange, ...] = ()
    replaced_by: tuple[str, ...] = ()
    """Immutable fields that changed: applying the change deletes and recreates the object."""

    @property
    def title(self) -> str:
        """``Kind/name``."""
        return f"{self.kind}/{self.name}"


@dataclass
class StackDiff:
    """Everything that changes in one stack."""

    stack: str
    objects: list[ObjectChange] = field(default_factory=list)
    gpus: dict[str, tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=dict)
    """GPU type -> ((min, max) before, (min, max) after), for types whose counts change."""
    services: list[str] = field(default_factory=list)
    """Per-service capacity changes (fit verdict, KV-cache tokens), as sentences."""
    cost: tuple[tuple[float, float], tuple[float, float]] | None = None
    """Monthly USD (min, max) before and after, when it changes."""
    findings_added: list[str] = field(default_factory=list)
    """Failed findings the change introduces (waived ones are listed under waivers)."""
    findings_resolved: list[str] = field(default_factory=list)
    findings_changed: list[str] = field(default_factory=list)
    """The same rule on the same field of the same object, failing before and after, saying something else
    (an image bump that moves an unpinned tag from one release to the next)."""
    waivers: list[str] = field(default_factory=list)
    """Waivers added, removed and changed, object by object."""
    scheduling: list[str] = field(default_factory=list)
    """Scheduling verdicts that change, where an inventory exists on either side."""
    problem: str | None = None

    @property
    def replacements(self) -> list[ObjectChange]:
        """Changed objects that would be deleted and recreated."""
        return [change for change in self.objects if change.replaced_by]

    @property
    def empty(self) -> bool:
        """Whether nothing at all changes."""
        return not (self.objects or self.gpus or self.services or self.cost or self.findings_added
                    or self.findings_resolved or self.findings_changed or self.waivers or self.scheduling
                    or self.problem)


def _key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    metadata = obj.get("metadata") or {}
    return str(obj.get("kind")), str(metadata.get("namespace", "")), str(metadata.get("name"))


def _joined(path: str, key: str | int) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else key


def field_changes(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """Field-level changes between two versions of an object, in document order: mappings key by
    key, lists index by index (a readable walk, where a minimal JSON patch would report values
    moved between unrelated fields)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        changes = []
        for key in [*before, *(k for k in after if k not in before)]:
            changes += field_changes(before.get(key, ABSENT), after.get(key, ABSENT), _joined(path, str(key)))
        return changes
    if isinstance(before, list) and isinstance(after, list):
        changes = []
        for index in range(max(len(before), len(after))):
            changes += field_changes(before[index] if index < len(before) else ABSENT,
                                     after[index] if index < len(after) else ABSENT, _joined(path, index))
        return changes
    return [] if before == after else [FieldChange(path, before, after)]


def replaced_fields(kind: str, changes: Sequence[FieldChange]) -> tuple[str, ...]:
    """The immutable fields of ``kind`` among ``changes`` (by path prefix)."""
    immutable = IMMUTABLE_FIELDS.get(kind, ())
    hit = {prefix for change in changes for prefix in immutable
           if change.path == prefix or change.path.startswith((prefix + ".", prefix + "["))}
    return tuple(sorted(hit))


def object_changes(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]) -> list[ObjectChange]:
    """Objects added, removed and changed, in a stable order (kind, namespace, name)."""
    old, new = {_key(o): o for o in before}, {_key(o): o for o in after}
    changes = []
    for key in sorted(old.keys() | new.keys()):
        kind, namespace, name = key
        if key not in old:
            changes.append(ObjectChange(kind, namespace, name, "added"))
        elif key not in new:
            changes.append(ObjectChange(kind, namespace, name, "removed"))
        elif old[key] != new[key]:
            fields = field_changes(old[key], new[key])
            changes.append(ObjectChange(kind, namespace, name, "changed", tuple(fields),
                                        replaced_fields(kind, fields)))
    return changes


def _gpus(plans: Sequence[ServicePlan]) -> dict[str, tuple[int, int]]:
    totals: dict[str, tuple[int, int]] = {}
    for row in plans:
        low, high = totals.get(row.gpu_type, (0, 0))
        totals[row.gpu_type] = (low + row.gpus_per_replica * row.replicas_min,
                                high + row.gpus_per_replica * row.replicas_max)
    return totals


def _service_lines(before: Sequence[ServicePlan], after: Sequence[ServicePlan]) -> list[str]:
    old, new = {row.service: row for row in before}, {row.service: row for row in after}
    lines = []
    for name in sorted(old.keys() | new.keys()):
        if name not in old:
            row = new[name]
            lines.append(f"{name}: new, {row.gpus_per_replica} x {row.gpu_type} per replica, "
                         f"{row.replicas_min}-{row.replicas_max} replicas, memory {row.fit or 'unknown'}")
        elif name not in new:
            lines.append(f"{name}: removed")
        else:
            was, now = old[name], new[name]
            parts = []
            if (was.gpu_type, was.gpus_per_replica) != (now.gpu_type, now.gpus_per_replica):
                parts.append(f"{was.gpus_per_replica} x {was.gpu_type} -> {now.gpus_per_replica} x {now.gpu_type} "
                             "per replica")
            if was.fit != now.fit:
                parts.append(f"memory {was.fit or 'unknown'} -> {now.fit or 'unknown'}")
            if was.kv_cache_tokens != now.kv_cache_tokens:
                parts.append(f"KV cache {_tokens(was.kv_cache_tokens)} -> {_tokens(now.kv_cache_tokens)} tokens")
            if parts:
                lines.append(f"{name}: " + ", ".join(parts))
    return lines


def _tokens(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


def _cost(plans: Sequence[ServicePlan]) -> tuple[float, float]:
    return round(sum(row.cost_min for row in plans), 2), round(sum(row.cost_max for row in plans), 2)


_FindingKey = tuple[str, str, str, str, str]


def _failed(side: StackSide, stack: str) -> dict[_FindingKey, str]:
    """Failed findings by (rule, kind, namespace, name, path) -> how they read."""
    if side.fleet is None:
        return {}
    cluster = cluster_of(side.fleet.cluster) if side.fleet.cluster else None
    report = check_objects(side.objects, stack, profile=side.fleet.policy_profile, cluster=cluster,
                           kubernetes_version=side.fleet.kubernetes_version)
    return {(f.rule.id, f.kind, f.namespace, f.name, f.path):
            f"{f.kind}/{f.name}: {f.rule.id} {f.severity}: {f.message}" + (f" at {f.path}" if f.path else "")
            for f in report.findings if f.status == Status.FAILED}


def _finding_lines(before: dict[_FindingKey, str], after: dict[_FindingKey, str],
                   ) -> tuple[list[str], list[str], list[str]]:
    """(added, resolved, changed): a finding that stays on its field but reads differently is one change."""
    added = [after[key] for key in sorted(after.keys() - before.keys())]
    resolved = [before[key] for key in sorted(before.keys() - after.keys())]
    changed = [f"{before[key]} -> {after[key].split(': ', 2)[2]}" for key in sorted(before.keys() & after.keys())
               if before[key] != after[key]]
    return added, resolved, changed


def _waivers(objects: Sequence[Manifest]) -> dict[tuple[str, str, str], str]:
    """Waiver annotations by (Kind/name, namespace, rule) -> value."""
    found = {}
    for obj in objects:
        kind, namespace, name = _key(obj)
        for rule, waiver in waivers_in((obj.get("metadata") or {}).get("annotations")).items():
            found[(f"{kind}/{name}", namespace, rule)] = waiver.annotation()[1] if waiver.problem is None else \
                waiver.reason
    return found


def _waiver_lines(before: Sequence[Manifest], after: Sequence[Manifest]) -> list[str]:
    old, new = _waivers(before), _waivers(after)
    lines = []
    for key in sorted(old.keys() | new.keys()):
        title, _namespace, rule = key
        if key not in old:
            lines.append(f"+ {title}: {rule} waived: {new[key]}")
        elif key not in new:
            lines.append(f"- {title}: {rule} no longer waived (was: {old[key]})")
        elif old[key] != new[key]:
            lines.append(f"~ {title}: {rule} waiver changed: {old[key]} -> {new[key]}")
    return lines


def _verdicts(side: StackSide) -> dict[tuple[str, str], str]:
    if side.fleet is None or side.fleet.cluster is None:
        return {}
    simulation = simulate_manifests(cluster_of(side.fleet.cluster), side.objects)
    return {(o.scenario.value, o.subject): o.verdict.value for o in simulation.outcomes}


def _scheduling_lines(before: StackSide, after: StackSide) -> list[str]:
    old, new = _verdicts(before), _verdicts(after)
    lines = []
    for scenario, subject in sorted(old.keys() | new.keys()):
        was, now = old.get((scenario, subject), "not simulated"), new.get((scenario, subject), "not simulated")
        if was != now:
            lines.append(f"{scenario} {subject}: {was} -> {now}")
    return lines


def diff_stack(stack: str, before: StackSide, after: StackSide) -> StackDiff:
    """Everything that changes in ``stack`` from ``before`` to ``after``."""
    result = StackDiff(stack, problem=after.problem)
    result.objects = object_changes(before.objects, after.objects)
    plans_before = plan_fleet(before.fleet) if before.fleet else []
    plans_after = plan_fleet(after.fleet) if after.fleet else []
    gpus_before, gpus_after = _gpus(plans_before), _gpus(plans_after)
    result.gpus = {gpu: (gpus_before.get(gpu, (0, 0)), gpus_after.get(gpu, (0, 0)))
                   for gpu in sorted(gpus_before.keys() | gpus_after.keys())
                   if gpus_before.get(gpu) != gpus_after.get(gpu)}
    result.services = _service_lines(plans_before, plans_after)
    cost_before, cost_after = _cost(plans_before), _cost(plans_after)
    result.cost = (cost_before, cost_after) if cost_before != cost_after else None
    result.findings_added, result.findings_resolved, result.findings_changed = _finding_lines(
        _failed(before, stack), _failed(after, stack))
    result.waivers = _waiver_lines(before.objects, after.objects)
    result.scheduling = _scheduling_lines(before, after)
    return result


def diff_sides(before: Mapping[str, StackSide], after: Mapping[str, StackSide]) -> list[StackDiff]:
    """A StackDiff for every stack on either side, in name order."""
    empty = StackSide(None, ())
    return [diff_stack(name, before.get(name, empty), after.get(name, empty))
            for name in sorted(before.keys() | after.keys())]
