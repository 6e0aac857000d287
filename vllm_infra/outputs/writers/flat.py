"""The flat GitOps layout: one directory per stack, one object per file, and a kustomization.yaml
listing them in apply order."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from vllm_infra.outputs.writers import HEADER, RenderedStack, StackFiles
from vllm_infra.serialization.emitter import dump

KUSTOMIZATION = PurePosixPath("kustomization.yaml")


def manifest_filename(obj: Mapping[str, Any]) -> PurePosixPath:
    """``deployment-llama-8b.yaml``: unique within a single-namespace stack."""
    return PurePosixPath(f"{str(obj['kind']).lower()}-{obj['metadata']['name']}.yaml")


class FlatWriter:
    """``<out>/<stack>/<kind>-<name>.yaml`` plus ``kustomization.yaml``."""

    name = "flat"

    def files(self, stack: RenderedStack) -> StackFiles:
        """One file per object, then the kustomization listing them."""
        header = HEADER.format(source=stack.source)
        files: StackFiles = {}
        for obj in stack.objects:
            path = manifest_filename(obj)
            if path in files:
                raise ValueError(f"two objects would be written to {path}")
            files[path] = (header + dump(obj)).encode()
        kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                         "resources": [str(path) for path in files]}
        files[KUSTOMIZATION] = (header + dump(kustomization)).encode()
        return files
