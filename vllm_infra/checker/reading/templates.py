"""Pod templates inside workloads (built-in kinds, LeaderWorkerSet leader and worker, operator
resources from one table) and their containers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from vllm_infra.checker.reading.objects import Manifest, as_list, dig, name_of
from vllm_infra.checker.reading.views import view
from vllm_infra.vocabulary.kubernetes import (
    BUILT_IN_WORKLOAD_KINDS,
    CUSTOM_POD_TEMPLATES,
    DISAGGREGATED_SET,
    LWS_LEADER_INDEX,
    LWS_NAME_LABEL,
    LWS_WORKER_INDEX_LABEL,
    PodTemplateSite,
    disaggregated_set_pod_labels,
    group_kind,
)
from vllm_infra.vocabulary.paths import FieldPath


@dataclass(frozen=True)
class PodTemplate:
    """A pod spec inside a workload, with its path and labels."""

    path: FieldPath
    spec: Mapping[str, Any]
    labels: Mapping[str, str]
    role: str = "pod"
    """``pod``, or ``leader``/``worker`` for a LeaderWorkerSet."""
    size: int = 1
    """Pods that serve one replica together (a LeaderWorkerSet group's size)."""
    template: bool = False
    """A template other resources instantiate (a KServe ServingRuntime, an OpenShift Template): what
    the instance adds (GPUs, the model) is not here to judge."""


def _lws_templates(obj: Manifest, spec: FieldPath = ("spec",),
                   group_labels: Mapping[str, str] | None = None) -> tuple[PodTemplate, ...]:
    """Leader and worker templates of the LeaderWorkerSet spec at ``spec``, with the labels the LWS
    controller adds to their pods (``group_labels``, by default the group name, and worker-index "0"
    for leaders); without a leaderTemplate, leaders use the worker template, and a group of size 1
    is its leader alone."""
    templates = []
    group = dig(obj, *spec, "leaderWorkerTemplate", default={}) or {}
    if not isinstance(group, Mapping):
        return ()
    size = group.get("size", 1)
    added = {LWS_NAME_LABEL: name_of(obj)} if group_labels is None else group_labels
    roles = (("leader", "leaderTemplate"), ("worker", "workerTemplate"))
    for role, key in roles[:1] if size == 1 else roles:
        source = key if isinstance(group.get(key), Mapping) else "workerTemplate"
        template = group.get(source)
        if not isinstance(template, Mapping):
            continue
        labels = {**(dig(template, "metadata", "labels", default={}) or {}), **added,
                  LWS_WORKER_INDEX_LABEL: LWS_LEADER_INDEX if role == "leader" else "1"}
        templates.append(PodTemplate((*spec, "leaderWorkerTemplate", source, "spec"), template.get("spec") or {},
                                     labels, role, size if type(size) is int and size > 0 else 1))
    return tuple(templates)


def disaggregated_roles(obj: Manifest) -> list[tuple[int, str]]:
    """(index, name) of each role of an LWS DisaggregatedSet."""
    return [(index, str(role.get("name", index))) for index, role in enumerate(as_list(dig(obj, "spec", "roles")))
            if type(role) is dict]


def _disaggregated_templates(obj: Manifest) -> tuple[PodTemplate, ...]:
    """Each role of an LWS DisaggregatedSet is a LeaderWorkerSet the controller creates per slice
    and revision (``<set>-<slice>-<revision>-<role>``, a name no selector can know beforehand), its
    leader and worker templates at ``spec.roles[i].spec``, labelled as the controller labels them
    (slice 0's)."""
    return tuple(template for index, role in disaggregated_roles(obj)
                 for template in _lws_templates(obj, ("spec", "roles", index, "spec"),
                                                disaggregated_set_pod_labels(name_of(obj), role)))


def pod_templates(obj: Manifest) -> tuple[PodTemplate, ...]:
    """Every pod template of a workload (none for other kinds)."""
    return view("pod_templates", obj, _pod_templates)


def _pod_templates(obj: Manifest) -> tuple[PodTemplate, ...]:
    kind = obj.get("kind")
    if not isinstance(kind, str):
        return ()  # not an object of any kind: the schema rules report it
    if kind == "Pod":
        return (PodTemplate(("spec",), obj.get("spec") or {}, dig(obj, "metadata", "labels", default={})),)
    if kind == "CronJob":
        base: FieldPath = ("spec", "jobTemplate", "spec", "template")
    elif kind == "LeaderWorkerSet":
        return _lws_templates(obj)
    elif group_kind(obj) == DISAGGREGATED_SET:
        return _disaggregated_templates(obj)
    elif (sites := CUSTOM_POD_TEMPLATES.get(group_kind(obj))) is not None:
        return tuple(template for site in sites for template in _custom_templates(obj, site))
    elif kind in BUILT_IN_WORKLOAD_KINDS:
        base = ("spec", "template")
    else:
        return ()
    template = dig(obj, *base)
    if not isinstance(template, Mapping):
        return ()
    return (PodTemplate((*base, "spec"), template.get("spec") or {}, dig(template, "metadata", "labels", default={})),)


def _sites(node: Any, path: tuple[str, ...], at: FieldPath) -> Iterator[tuple[FieldPath, Any]]:
    if not path:
        yield at, node
    elif path[0] == "*":
        for index, item in enumerate(node if type(node) is list else ()):
            yield from _sites(item, path[1:], (*at, index))
    elif type(node) is dict and path[0] in node:
        yield from _sites(node[path[0]], path[1:], (*at, path[0]))


def _custom_templates(obj: Manifest, site: PodTemplateSite) -> Iterator[PodTemplate]:
    for at, node in _sites(obj, site.path, ()):
        if type(node) is not dict:
            continue
        labels = dict(site.labels)
        if site.name_label:
            labels[site.name_label] = name_of(obj)
        if site.wrapped:
            spec, labels = node.get("spec"), {**(dig(node, "metadata", "labels", default={}) or {}), **labels}
            path = (*at, "spec")
        else:
            spec, path = node, at
        if type(spec) is dict and spec.get("containers"):
            yield PodTemplate(path, spec, labels, site.role, template=site.template)


@dataclass(frozen=True)
class ContainerRef:
    """One container with its path."""

    path: FieldPath
    spec: Mapping[str, Any]
    init: bool = False


def containers(template: PodTemplate, *, include_init: bool = True) -> list[ContainerRef]:
    """Containers of a pod template (init and ephemeral containers too, unless excluded); an entry
    that is not an object is no container (the schema rule reports it)."""
    keys = ("containers", "initContainers", "ephemeralContainers") if include_init else ("containers",)
    return [ContainerRef((*template.path, key, i), c, init=key != "containers") for key in keys
            for i, c in enumerate(as_list(template.spec.get(key))) if type(c) is dict]


def image_volumes(template: PodTemplate) -> list[tuple[FieldPath, Mapping[str, Any]]]:
    """(path, volume) of each image volume of a pod template (``volumes[].image``, an OCI image mounted
    read-only)."""
    return [((*template.path, "volumes", index), volume)
            for index, volume in enumerate(as_list(template.spec.get("volumes")))
            if type(volume) is dict and isinstance(volume.get("image"), Mapping)]


def group_size(obj: Manifest) -> int:
    """Pods that serve one replica together (LWS ``size``; 1 otherwise)."""
    if obj.get("kind") == "LeaderWorkerSet":  # a DisaggregatedSet's roles carry their own (PodTemplate.size)
        return int(dig(obj, "spec", "leaderWorkerTemplate", "size", default=1) or 1)
    return 1


def running_containers(pod_spec: Mapping[str, Any]) -> list[Any]:
    """The containers that run beside each other: ``containers`` and native sidecars (init
    containers with ``restartPolicy: Always``, whose ports serve like any container's)."""
    sidecars = [c for c in as_list(pod_spec.get("initContainers"))
                if isinstance(c, Mapping) and c.get("restartPolicy") == "Always"]
    return [*as_list(pod_spec.get("containers")), *sidecars]


def declared_ports(pod_containers: Any) -> tuple[set[str], set[int]]:
    """(names, numbers) of the ports these containers declare (a pod's containers share one network
    namespace, so any of them answers on the pod's address)."""
    names: set[str] = set()
    numbers: set[int] = set()
    for container in as_list(pod_containers):
        for port in as_list(container.get("ports")) if isinstance(container, Mapping) else ():
            if not isinstance(port, Mapping):
                continue
            if port.get("name"):
                names.add(str(port["name"]))
            if type(port.get("containerPort")) is int:
                numbers.add(port["containerPort"])
    return names, numbers
