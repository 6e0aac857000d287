"""The kustomize layout many teams keep: ``base/<group>/`` with the objects environments share
and ``overlays/<env>/`` with a kustomization that sets the environment's namespace, takes the
base groups it needs, patches them into that environment's objects (RFC 6902 JSON patches),
deletes the base objects it does not have, and adds the objects only it has. ``kubectl kustomize overlays/<env>``
builds exactly what the flat layout holds for that environment.

An object (kind and name) two or more environments render goes to the base, as the first
environment in name order renders it, without its namespace; base objects are grouped by the
service they belong to. It is one tree for all stacks, laid out through the writer interface as
one directory (``<out>/kustomize``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any

import jsonpatch

from vllm_infra.outputs.writers import HEADER, RenderedStack, StackFile, marker_file
from vllm_infra.outputs.writers.flat import manifest_filename
from vllm_infra.serialization.emitter import dump
from vllm_infra.vocabulary.kubernetes import SERVICE_LABEL

LAYOUT_DIRECTORY = "kustomize"
BASE, OVERLAYS = PurePosixPath("base"), PurePosixPath("overlays")
KUSTOMIZATION = "kustomization.yaml"
SHARED_GROUP = "shared"
"""Base group of shared objects that belong to no service."""
KUSTOMIZE_API = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}

Identity = tuple[str, str]
"""(kind, name): what an object is across environments (namespaces differ)."""


def _identity(obj: Mapping[str, Any]) -> Identity:
    return str(obj.get("kind")), str((obj.get("metadata") or {}).get("name"))


def _without_namespace(obj: Mapping[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(obj))
    copy.get("metadata", {}).pop("namespace", None)
    return dict(copy)


def _group(obj: Mapping[str, Any]) -> str:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return str(labels.get(SERVICE_LABEL, SHARED_GROUP))


class KustomizeWriter:
    """``<out>/kustomize/base/<group>/`` and ``<out>/kustomize/overlays/<env>/`` for all stacks."""

    name = "kustomize"

    def __init__(self, stacks: Sequence[RenderedStack]) -> None:
        self.stacks = sorted(stacks, key=lambda stack: stack.name)
        counts: dict[Identity, int] = {}
        self.base: dict[Identity, dict[str, Any]] = {}
        for stack in self.stacks:
            for obj in stack.objects:
                identity = _identity(obj)
                counts[identity] = counts.get(identity, 0) + 1
                self.base.setdefault(identity, _without_namespace(obj))
        self.base = {identity: obj for identity, obj in self.base.items() if counts[identity] > 1}
        self.groups: dict[str, list[Identity]] = {}
        for identity, obj in self.base.items():
            self.groups.setdefault(_group(obj), []).append(identity)

    def tree(self) -> RenderedStack:
        """The pseudo-stack this writer lays out (its directory is ``<out>/kustomize``)."""
        return RenderedStack(LAYOUT_DIRECTORY, ", ".join(stack.source for stack in self.stacks), (), "")

    def paths(self, stack: RenderedStack) -> list[PurePosixPath]:
        """Every file of the tree, in the order ``index_files`` gives them."""
        return [path for path, _content in self._files]

    def object_files(self, stack: RenderedStack, objects: range) -> Iterator[StackFile]:
        """Nothing depends on single objects: every file depends on all environments."""
        return iter(())

    def index_files(self, stack: RenderedStack) -> Iterator[StackFile]:
        """The base groups, then each overlay."""
        return iter(self._files)

    @cached_property
    def _files(self) -> list[StackFile]:
        """The tree's files, produced once (``paths`` and ``index_files`` both need all of them)."""
        header = HEADER.format(source=self.tree().source)
        files: list[StackFile] = []
        for group, identities in sorted(self.groups.items()):
            directory = BASE / group
            names = [manifest_filename(self.base[identity]) for identity in identities]
            files += [(directory / name, (header + dump(self.base[identity])).encode())
                      for name, identity in zip(names, identities, strict=True)]
            files.append((directory / KUSTOMIZATION,
                          (header + dump({**KUSTOMIZE_API, "resources": [str(name) for name in names]})).encode()))
        for stack in self.stacks:
            files += self._overlay(stack, header)
        return files

    def _overlay(self, stack: RenderedStack, header: str) -> list[StackFile]:
        directory = OVERLAYS / stack.name
        own = {_identity(obj): obj for obj in stack.objects}
        namespace = next((str(obj["metadata"]["namespace"]) for obj in stack.objects
                          if (obj.get("metadata") or {}).get("namespace")), "")
        local = [obj for identity, obj in own.items() if identity not in self.base]
        groups = sorted(group for group, identities in self.groups.items() if any(i in own for i in identities))
        deletions, edits = [], []
        for group in groups:
            for kind, name in self.groups[group]:
                base = self.base[(kind, name)]
                if (kind, name) not in own:  # a base object this environment does not have
                    deletions.append({"patch": dump({"$patch": "delete", "apiVersion": base["apiVersion"],
                                                     "kind": kind, "metadata": {"name": name}})})
                    continue
                placed = {**base, "metadata": {**base["metadata"], "namespace": namespace}} if namespace else base
                operations = jsonpatch.make_patch(placed, own[(kind, name)]).patch
                if operations:
                    edits.append({"target": {"kind": kind, "name": name},
                                  "patch": json.dumps(operations, sort_keys=True, separators=(",", ":"))})
        kustomization: dict[str, Any] = {**KUSTOMIZE_API, **({"namespace": namespace} if namespace else {}),
                                         "resources": [
            *(f"../../{BASE / group}" for group in groups), *(str(manifest_filename(obj)) for obj in local)]}
        if deletions or edits:
            kustomization["patches"] = [*deletions, *edits]
        files = [(directory / manifest_filename(obj), (header + dump(obj)).encode()) for obj in local]
        files.append((directory / KUSTOMIZATION, (header + dump(kustomization)).encode()))
        marker, content = marker_file(stack)
        files.append((directory / marker, content))
        return files
