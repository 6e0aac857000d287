"""The flat GitOps layout: one directory per stack, one object per file, and a kustomization.yaml
listing them in apply order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from vllm_infra.outputs.writers import HEADER, LayoutError, RenderedStack, StackFile
from vllm_infra.serialization.emitter import dump

KUSTOMIZATION = PurePosixPath("kustomization.yaml")


def manifest_filename(obj: Mapping[str, Any]) -> PurePosixPath:
    """``deployment-llama-8b.yaml``: unique within a single-namespace stack."""
    return PurePosixPath(f"{str(obj['kind']).lower()}-{obj['metadata']['name']}.yaml")


class FlatWriter:
    """``<out>/<stack>/<kind>-<name>.yaml`` plus ``kustomization.yaml``."""

    name = "flat"

    def paths(self, stack: RenderedStack) -> list[PurePosixPath]:
        """One file per object, then the kustomization."""
        paths = [manifest_filename(obj) for obj in stack.objects]
        shared = sorted(str(path) for path, count in Counter(paths).items() if count > 1)
        if shared:
            raise LayoutError(f"two objects would be written to {', '.join(shared)}")
        return [*paths, KUSTOMIZATION]

    def object_files(self, stack: RenderedStack, objects: range) -> Iterator[StackFile]:
        """One file per object."""
        header = HEADER.format(source=stack.source)
        for index in objects:
            obj = stack.objects[index]
            yield manifest_filename(obj), (header + dump(obj)).encode()

    def index_files(self, stack: RenderedStack) -> Iterator[StackFile]:
        """The kustomization, listing every object's file in apply order."""
        kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                         "resources": [str(manifest_filename(obj)) for obj in stack.objects]}
        yield KUSTOMIZATION, (HEADER.format(source=stack.source) + dump(kustomization)).encode()
