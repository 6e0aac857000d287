"""Apply a service's JSON patches to its rendered objects (escape hatch, applied last)."""

from __future__ import annotations

from typing import Any

import jsonpatch

from vllm_infra.spec.patches import JsonPatchOperation
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.vocabulary.kubernetes import WAIVER_ANNOTATION_PREFIX


class PatchError(ValueError):
    """A patch names no rendered object or cannot be applied."""


def _operation(op: JsonPatchOperation) -> dict[str, Any]:
    wire: dict[str, Any] = {"op": op.op, "path": op.path}
    if "value" in op.model_fields_set:
        wire["value"] = op.value
    if op.from_ is not None:
        wire["from"] = op.from_
    return wire


def apply_patches(service: ResolvedService, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return ``objects`` with the service's patches applied in declaration order."""
    if not service.spec.patches:
        return objects
    by_key = {(obj["kind"], obj["metadata"]["name"]): index for index, obj in enumerate(objects)}
    patched = list(objects)
    for number, patch in enumerate(service.spec.patches):
        key = (patch.kind, patch.name or service.name)
        if key not in by_key:
            available = ", ".join(f"{kind}/{name}" for kind, name in sorted(by_key))
            raise PatchError(f"services[{service.name}].patches[{number}]: no rendered {key[0]}/{key[1]} "
                             f"(rendered: {available})")
        ops = [_operation(op) for op in patch.operations]
        index = by_key[key]
        try:
            patched[index] = jsonpatch.apply_patch(patched[index], ops)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise PatchError(f"services[{service.name}].patches[{number}] on {key[0]}/{key[1]}: {exc}") from exc
        if _waivers(patched[index]) - _waivers(objects[index]):
            raise PatchError(f"services[{service.name}].patches[{number}] on {key[0]}/{key[1]}: patches may not add "
                             f"or change waivers ({WAIVER_ANNOTATION_PREFIX}*); the spec's typed reasons render the "
                             "waivers it allows")
        if _identity(patched[index]) != _identity(objects[index]):
            raise PatchError(f"services[{service.name}].patches[{number}] on {key[0]}/{key[1]}: patches may not "
                             "change apiVersion, kind, metadata.name or metadata.namespace (they decide the file "
                             "an object is written to and what refers to it)")
    return patched


def _waivers(obj: Any) -> set[tuple[str, str]]:
    """Waiver annotations (key, value) anywhere in an object (its own, or a pod template's)."""
    if isinstance(obj, dict):
        found = {(str(key), str(value)) for key, value in obj.items() if str(key).startswith(WAIVER_ANNOTATION_PREFIX)}
        return found.union(*(_waivers(value) for value in obj.values()))
    if isinstance(obj, list):
        return set().union(*(_waivers(item) for item in obj))
    return set()


def _identity(obj: Any) -> tuple[Any, ...] | None:
    if not isinstance(obj, dict):
        return None
    metadata = obj.get("metadata")
    meta = metadata if isinstance(metadata, dict) else {}
    return obj.get("apiVersion"), obj.get("kind"), meta.get("name"), meta.get("namespace")
