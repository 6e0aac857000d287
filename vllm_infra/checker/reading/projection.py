"""What the rules over the whole bundle, and the scheduling simulation, read of an object, held
compactly: a check streams its objects through the rules that see one object at a time and keeps
only this for the rules that see them together.

The projection drops what only per-object rules read (liveness and readiness probes, lifecycle
hooks, most of the security context) and shares equal subtrees: a fleet repeats the same
containers, probes, volumes and selectors thousands of times, and each is then held once. A test
checks, on every fixture and reference tree, that bundle findings and simulations on projections
equal those on the objects themselves.
"""

from __future__ import annotations

import hashlib
import pickle
from typing import Any

from vllm_infra.checker.reading.objects import Manifest, dig
from vllm_infra.checker.reading.templates import pod_templates
from vllm_infra.vocabulary.paths import FieldPath

PER_OBJECT_CONTAINER_FIELDS = frozenset({
    "livenessProbe", "readinessProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy",
    "imagePullPolicy", "workingDir", "stdin", "stdinOnce", "tty"})
"""Container fields no rule over the bundle reads."""
PER_OBJECT_POD_FIELDS = frozenset({"securityContext", "dnsPolicy", "dnsConfig", "hostAliases", "imagePullSecrets",
                                   "readinessGates"})
"""Pod fields no rule over the bundle reads."""
PER_OBJECT_METADATA_FIELDS = frozenset({"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp"})
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


class SharedNodes:
    """Equal dicts and lists become one object (hash-consing), found top-down by a 128-bit digest
    of their pickled form: equal bytes mean equal values of equal types (``true`` stays apart from
    ``1``), pickling and hashing run in C, and the digest keeps the table small where subtrees are
    unique. Shared nodes are read-only: nothing in the checker writes to a manifest."""

    def __init__(self) -> None:
        self._nodes: dict[bytes, Any] = {}

    def share(self, node: Any) -> Any:
        """``node``, or the equal instance seen before, built from shared children."""
        kind = type(node)
        if kind is not dict and kind is not list:
            return node
        key = hashlib.blake2b(pickle.dumps(node, pickle.HIGHEST_PROTOCOL), digest_size=16).digest()
        found = self._nodes.get(key)
        if found is None:
            found = {name: self.share(value) for name, value in node.items()} if kind is dict else \
                [self.share(value) for value in node]
            self._nodes[key] = found
        return found


def _container(container: Any) -> Any:
    if type(container) is not dict:
        return container
    kept = {key: value for key, value in container.items() if key not in PER_OBJECT_CONTAINER_FIELDS}
    context = container.get("securityContext")
    if type(context) is dict:  # Pod Security admission (VI-SEC-017) reads these two
        capabilities = context.get("capabilities")
        added = capabilities.get("add") if type(capabilities) is dict else None
        kept["securityContext"] = {**({"privileged": context["privileged"]} if "privileged" in context else {}),
                                   **({"capabilities": {"add": added}} if added is not None else {})}
    return kept


def _pod(spec: Any) -> Any:
    if type(spec) is not dict:
        return spec
    kept = {key: value for key, value in spec.items() if key not in PER_OBJECT_POD_FIELDS}
    for key in CONTAINER_LISTS:
        if type(spec.get(key)) is list:
            kept[key] = [_container(container) for container in spec[key]]
    return kept


def _replaced(node: Any, path: FieldPath, value: Any) -> Any:
    """``node`` with the value at ``path`` replaced, copying only the dicts and lists on the way."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if type(node) is dict and head in node:
        return {**node, head: _replaced(node[head], rest, value)}
    if type(node) is list and type(head) is int and head < len(node):
        return [*node[:head], _replaced(node[head], rest, value), *node[head + 1:]]
    return node


def bundle_projection(obj: Manifest, shared: SharedNodes) -> dict[str, Any]:
    """What bundle rules and the simulation read of ``obj``, its subtrees shared; the top-level
    dict is always its own (two equal objects stay two objects)."""
    projected: Any = dict(obj)
    metadata = obj.get("metadata")
    if type(metadata) is dict and PER_OBJECT_METADATA_FIELDS & metadata.keys():
        projected["metadata"] = {key: value for key, value in metadata.items()
                                 if key not in PER_OBJECT_METADATA_FIELDS}
    for template in pod_templates(obj):
        if dig(obj, *template.path) is template.spec:
            projected = _replaced(projected, template.path, _pod(template.spec))
    return {key: shared.share(value) for key, value in projected.items()}
