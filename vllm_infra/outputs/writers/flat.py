"""The flat GitOps layout: one directory per stack, one object per file, a kustomization.yaml
listing them in apply order, and the delivery controller's objects under ``delivery/``."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from vllm_infra.outputs.writers import HEADER, LayoutError, RenderedStack, StackFile, marker_file
from vllm_infra.serialization.emitter import dump
from vllm_infra.vocabulary.markers import STACK_MARKER

KUSTOMIZATION = PurePosixPath("kustomization.yaml")
DELIVERY = PurePosixPath("delivery")


_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
"""A DNS-1123 subdomain, which every object name the renderer emits must be (and which can never
leave the stack directory)."""


def manifest_filename(obj: Mapping[str, Any]) -> PurePosixPath:
    """``deployment-llama-8b.yaml``: unique within a single-namespace stack. Kinds and names that
    could not name a file inside the stack directory (``../x``, ``a/b``, missing) are refused."""
    kind = obj.get("kind")
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise LayoutError(f"an object's kind {_shown(kind)} is not a Kubernetes kind (letters and digits)")
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise LayoutError(f"{kind} name {_shown(name)} is not a DNS-1123 name, so it cannot name a file")
    return PurePosixPath(f"{kind.lower()}-{name}.yaml")


def _shown(value: object) -> str:
    """A value in an error: its repr, shortened, control characters escaped."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class FlatWriter:
    """``<out>/<stack>/<kind>-<name>.yaml`` plus ``kustomization.yaml`` (and ``delivery/``)."""

    name = "flat"

    def paths(self, stack: RenderedStack) -> list[PurePosixPath]:
        """One file per object, then the kustomization, then the delivery objects."""
        paths = [manifest_filename(obj) for obj in stack.objects]
        shared = sorted(str(path) for path, count in Counter(paths).items() if count > 1)
        if shared:
            raise LayoutError(f"two objects would be written to {', '.join(shared)}")
        return [*paths, KUSTOMIZATION, PurePosixPath(STACK_MARKER),
                *(DELIVERY / manifest_filename(obj) for obj in stack.delivery)]

    def object_files(self, stack: RenderedStack, objects: range) -> Iterator[StackFile]:
        """One file per object."""
        header = HEADER.format(source=stack.source)
        for index in objects:
            obj = stack.objects[index]
            yield manifest_filename(obj), (header + dump(obj)).encode()

    def index_files(self, stack: RenderedStack) -> Iterator[StackFile]:
        """The kustomization, listing every object's file in apply order, and the delivery objects."""
        header = HEADER.format(source=stack.source)
        kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                         "resources": [str(manifest_filename(obj)) for obj in stack.objects]}
        yield KUSTOMIZATION, (header + dump(kustomization)).encode()
        yield marker_file(stack)
        for obj in stack.delivery:
            yield DELIVERY / manifest_filename(obj), (header + dump(obj)).encode()
