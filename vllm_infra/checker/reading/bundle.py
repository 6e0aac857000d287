"""The set of objects checked together, indexed so bundle rules stay linear in its size."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from vllm_infra.checker.reading.objects import Manifest, dig, labels_match, name_of, namespace_of
from vllm_infra.checker.reading.scaling import min_replicas
from vllm_infra.checker.reading.templates import PodTemplate, pod_templates

_T = TypeVar("_T")


class Bundle:
    """All objects being checked together, indexed for the lookups bundle rules need (so a fleet of
    thousands of objects is checked in linear time)."""

    def __init__(self, objects: list[Manifest]) -> None:
        self.objects = objects
        self._by_kind: dict[str, list[Manifest]] = {}
        self._by_name: dict[tuple[str, str, str], Manifest] = {}
        for obj in objects:
            kind = str(obj.get("kind"))
            self._by_kind.setdefault(kind, []).append(obj)
            self._by_name.setdefault((kind, namespace_of(obj), name_of(obj)), obj)
        self._templates: dict[str, list[tuple[Manifest, PodTemplate]]] | None = None
        self._label_index: dict[tuple[str, str, str], list[tuple[Manifest, PodTemplate]]] | None = None
        self._scalers: dict[tuple[str, str, str], list[Manifest]] | None = None
        self._service_labels: dict[tuple[str, str, str], list[Manifest]] | None = None
        self._of_object: dict[int, tuple[PodTemplate, ...]] = {}

    def of_kind(self, *kinds: str) -> list[Manifest]:
        """Objects whose kind is one of ``kinds``, in input order."""
        if len(kinds) == 1:
            return list(self._by_kind.get(kinds[0], []))
        return [obj for obj in self.objects if obj.get("kind") in kinds]

    def find(self, kind: str, name: str, namespace: str | None) -> Manifest | None:
        """The object with this kind and name in ``namespace`` (None matches any namespace)."""
        if namespace is not None:
            return self._by_name.get((kind, namespace, name))
        return next((obj for obj in self._by_kind.get(kind, []) if name_of(obj) == name), None)

    def _index_templates(self) -> None:
        self._templates, self._label_index, self._of_object = {}, {}, {}
        for obj in self.objects:
            namespace = namespace_of(obj)
            templates = pod_templates(obj)
            self._of_object[id(obj)] = templates
            for template in templates:
                entry = (obj, template)
                self._templates.setdefault(namespace, []).append(entry)
                labels = template.labels if isinstance(template.labels, Mapping) else {}
                for key, value in labels.items():
                    self._label_index.setdefault((namespace, str(key), str(value)), []).append(entry)

    def templates_of(self, obj: Manifest) -> tuple[PodTemplate, ...]:
        """Pod templates of one object (the same instances the selector index returns)."""
        if self._templates is None:
            self._index_templates()
        return self._of_object.get(id(obj), ())

    def templates_in(self, namespace: str) -> list[tuple[Manifest, PodTemplate]]:
        """(workload, PodTemplate) pairs in a namespace."""
        if self._templates is None:
            self._index_templates()
        assert self._templates is not None
        return self._templates.get(namespace, [])

    def templates_selected(self, namespace: str, selector: Mapping[str, Any] | None
                           ) -> list[tuple[Manifest, PodTemplate]]:
        """(workload, PodTemplate) pairs a label selector matches in a namespace."""
        if not selector:
            return []
        if self._label_index is None:
            self._index_templates()
        assert self._label_index is not None
        exact = selector.get("matchLabels") if "matchLabels" in selector or "matchExpressions" in selector \
            else selector
        candidates = _rarest(self._label_index, namespace, exact if isinstance(exact, Mapping) else {})
        if candidates is None:
            candidates = self.templates_in(namespace)
        return [entry for entry in candidates if labels_match(selector, entry[1].labels)]

    def services_selected(self, namespace: str, selector: Mapping[str, Any]) -> list[Manifest]:
        """Services in a namespace whose labels a label selector (a ServiceMonitor's) matches."""
        if self._service_labels is None:
            self._service_labels = {}
            for service in self.of_kind("Service"):
                for key, value in (dig(service, "metadata", "labels", default={}) or {}).items():
                    self._service_labels.setdefault((namespace_of(service), str(key), str(value)), []).append(service)
        candidates = _rarest(self._service_labels, namespace, selector.get("matchLabels") or {})
        if candidates is None:
            candidates = [s for s in self.of_kind("Service") if namespace_of(s) == namespace]
        return [s for s in candidates if labels_match(selector, dig(s, "metadata", "labels", default={}) or {})]

    def autoscalers_of(self, workload: Manifest) -> list[Manifest]:
        """HPAs and ScaledObjects whose scaleTargetRef names this workload."""
        if self._scalers is None:
            self._scalers = {}
            for scaler in self.of_kind("HorizontalPodAutoscaler", "ScaledObject"):
                ref = (scaler.get("spec") or {}).get("scaleTargetRef") or {}
                namespace = str((scaler.get("metadata") or {}).get("namespace", ""))
                key = (str(ref.get("kind", "Deployment")), namespace, str(ref.get("name")))
                self._scalers.setdefault(key, []).append(scaler)
        meta = workload.get("metadata") or {}
        return self._scalers.get((str(workload.get("kind")), str(meta.get("namespace", "")), str(meta.get("name"))),
                                 [])

    def minimum_scale(self, workload: Manifest) -> int:
        """Replicas at the workload's minimum scale (autoscaler minimum, else spec.replicas)."""
        scalers = self.autoscalers_of(workload)
        if scalers:
            return min(min_replicas(scaler) for scaler in scalers)
        return int(dig(workload, "spec", "replicas", default=1))


def _rarest(index: dict[tuple[str, str, str], list[_T]], namespace: str, labels: Mapping[str, Any]) -> list[_T] | None:
    """Entries carrying the least common of ``labels`` (every selector match is among them), so a
    label that the whole fleet shares never makes a lookup scan everything; None without labels."""
    candidates: list[_T] | None = None
    for key, value in labels.items():
        found = index.get((namespace, str(key), str(value)), [])
        if candidates is None or len(found) < len(candidates):
            candidates = found
    return candidates
