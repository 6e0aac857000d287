"""Strict JSON-schema validation of Kubernetes objects, offline and in-process.

Core kinds use the strict schemas shipped in the ``kubernetes-validate`` package (unknown fields
are errors); add-on kinds use CRD schemas vendored in ``crds/`` (see ``crds/PROVENANCE.json``),
converted from structural OpenAPI to JSON Schema with the same strictness. Each schema is compiled
once per process with jsonschema-rs.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION, SUPPORTED_KUBERNETES_VERSIONS
from vllm_infra.vocabulary.paths import format_path

CRD_DIR = Path(__file__).parent / "crds"
"""Add-on CRD schemas as compact JSON, with ``PROVENANCE.json`` (written by ``tools/vendor_crds.py``)."""
_DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META = f"{_DEFINITIONS_URI}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_GROUP_PREFIX = re.compile(r"^([^./]*)(?:\.[^/]*)?/")
_DASH = r"\1-"
"""``networking.k8s.io/v1`` -> ``networking-v1``, as the schema files are named."""


@dataclass(frozen=True)
class SchemaViolation:
    """One way an object breaks its schema."""

    location: tuple[str | int, ...]
    """Path inside the object, e.g. ``('spec', 'template', 'spec', 'containers', 0)``."""
    message: str

    @property
    def path(self) -> str:
        """The location as ``spec.template.spec.containers[0]``."""
        return format_path(self.location)


class UnknownKindError(LookupError):
    """No schema exists for an apiVersion/kind in the selected Kubernetes version."""


class UnsupportedVersionError(ValueError):
    """The requested Kubernetes version has no bundled schemas."""


def is_skipped(obj: Mapping[str, Any], skip_kinds: frozenset[str]) -> bool:
    """Whether ``--skip`` names the object's kind, as ``Kind`` or ``group/version/Kind``."""
    kind = str(obj.get("kind"))
    return kind in skip_kinds or f"{obj.get('apiVersion')}/{kind}" in skip_kinds


def normalize_version(version: str) -> str:
    """Accept ``1.33``, ``v1.33`` or ``1.33.2``; return ``1.33``."""
    match = re.match(r"^v?(\d+)\.(\d+)", version.strip())
    minor = f"{match.group(1)}.{match.group(2)}" if match else version
    if minor not in SUPPORTED_KUBERNETES_VERSIONS:
        raise UnsupportedVersionError(f"Kubernetes {version} is not supported (supported: "
                                      f"{SUPPORTED_KUBERNETES_VERSIONS[0]}-{SUPPORTED_KUBERNETES_VERSIONS[-1]})")
    return minor


def _core_schema_dir(version: str) -> Path:
    """Schema directory inside the installed kubernetes-validate package, found without importing
    it (its import pulls in jsonschema and PyYAML, which validation does not need)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise UnsupportedVersionError("the kubernetes-validate package (schema data) is not installed")
    return Path(spec.submodule_search_locations[0]) / "kubernetes-json-schema" / f"v{version}.0-local-strict"


def _structural_to_json_schema(node: Any) -> Any:
    """Translate CRD structural-schema extensions into plain JSON Schema, strictly. The API server
    applies a structural schema's defaults before it validates, so a required property that has a
    default is never missing (LWS's ``rolloutStrategy.type``)."""
    if isinstance(node, list):
        return [_structural_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _structural_to_json_schema(value) for key, value in node.items()
           if not key.startswith("x-kubernetes-") and key != "nullable"}
    properties = node.get("properties")
    if isinstance(node.get("required"), list) and isinstance(properties, dict):
        out["required"] = [name for name in node["required"]
                           if not (isinstance(properties.get(name), dict) and "default" in properties[name])]
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in node and not preserve and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


@cache
def _crd_index() -> dict[tuple[str, str], Path]:
    index = {}
    for path in sorted(CRD_DIR.glob("*.json")):
        if path.name == "PROVENANCE.json":
            continue
        head = json.loads(path.read_text())
        for version in head["versions"]:
            index[(f"{head['group']}/{version}", head["kind"])] = path
    return index


@cache
def _crd_sources() -> dict[str, str]:
    """Vendored schema file -> ``repository commit`` it was taken from."""
    records = json.loads((CRD_DIR / "PROVENANCE.json").read_text())
    return {record["file"]: f"{record.get('repository', 'upstream')} {record.get('commit', '')}".strip()
            for record in records}


class UserSchemaError(ValueError):
    """A schema directory or file given by the user cannot be used (it names the file)."""


_Kind = tuple[str, str]
_CRD_API = "apiextensions.k8s.io/v1"


def _crd_schemas(document: Any) -> dict[_Kind, dict[str, Any]]:
    """JSON Schemas of a CustomResourceDefinition's versions, strict like the vendored ones."""
    spec = document.get("spec") if isinstance(document.get("spec"), dict) else {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    found = {}
    for version in spec.get("versions") or []:
        schema = ((version or {}).get("schema") or {}).get("openAPIV3Schema")
        if isinstance(group, str) and isinstance(kind, str) and isinstance(schema, dict):
            converted = _structural_to_json_schema(schema)
            converted.setdefault("properties", {})["metadata"] = {"$ref": _OBJECT_META}
            converted["required"] = sorted({*converted.get("required", []), "apiVersion", "kind", "metadata"})
            found[(f"{group}/{version.get('name')}", kind)] = converted
    return found


def _json_schema_kinds(schema: dict[str, Any], path: Path, root: Path) -> list[_Kind]:
    """Kinds a plain JSON Schema file describes: its ``x-kubernetes-group-version-kind``, else the
    name kubeconform's catalogs give it (``<group>/<kind>_<version>.json``, kind in lower case)."""
    marked = schema.get("x-kubernetes-group-version-kind")
    if isinstance(marked, list):
        return [(f"{entry['group']}/{entry['version']}" if entry.get("group") else str(entry["version"]),
                 str(entry["kind"])) for entry in marked if isinstance(entry, dict) and "kind" in entry]
    kind, _, version = path.stem.partition("_")
    group = path.parent.relative_to(root).as_posix() if path.parent != root else ""
    return [(f"{group}/{version}" if group else version, kind.lower())] if version else []


def user_schemas(directories: tuple[str, ...]) -> dict[_Kind, dict[str, Any]]:
    """Schemas from the user's directories (``check --schema-dir``): CRDs in YAML or JSON, and JSON
    Schema files; raises UserSchemaError naming the file that cannot be used."""
    from vllm_infra.serialization.kubernetes_yaml import read_stream

    found: dict[_Kind, dict[str, Any]] = {}
    for directory in directories:
        root = Path(directory)
        if not root.is_dir():
            raise UserSchemaError(f"{directory}: not a directory")
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() not in (".yaml", ".yml", ".json") or not path.is_file():
                continue
            try:
                text = path.read_text()
            except (OSError, UnicodeDecodeError) as error:
                raise UserSchemaError(f"{path}: cannot read: {error}") from None
            stream = read_stream(text)
            if stream.error is not None:
                raise UserSchemaError(f"{path}:{stream.error.line}: {stream.error.message}")
            for document in stream.documents:
                value = document.value
                if not isinstance(value, dict):
                    continue
                if value.get("kind") == "CustomResourceDefinition" and value.get("apiVersion") == _CRD_API:
                    found.update(_crd_schemas(value))
                elif "$schema" in value or "properties" in value or "x-kubernetes-group-version-kind" in value:
                    found.update(dict.fromkeys(_json_schema_kinds(value, path, root), value))
    if not found and directories:
        raise UserSchemaError(f"{', '.join(directories)}: no CRD or JSON Schema found")
    return found


PRELOADED_KINDS = (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("v1", "Service"),
                   ("v1", "ServiceAccount"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Namespace"),
                   ("v1", "PersistentVolumeClaim"), ("policy/v1", "PodDisruptionBudget"),
                   ("autoscaling/v2", "HorizontalPodAutoscaler"), ("networking.k8s.io/v1", "NetworkPolicy"))


class SchemaValidator:
    """Validates objects against one Kubernetes version's schemas plus the vendored CRDs."""

    def __init__(self, kubernetes_version: str = KUBERNETES_VERSION, schema_dirs: tuple[str, ...] = ()) -> None:
        self.kubernetes_version = normalize_version(kubernetes_version)
        self._dir = _core_schema_dir(self.kubernetes_version)
        self._user = user_schemas(schema_dirs)
        self._registry: jsonschema_rs.Registry | None = None
        self._compiled: dict[tuple[str, str], jsonschema_rs.Validator | None] = {}

    def _shared_registry(self) -> jsonschema_rs.Registry:
        if self._registry is None:
            definitions = json.loads((self._dir / "_definitions.json").read_text())
            self._registry = jsonschema_rs.Registry([(_DEFINITIONS_URI, definitions)])
        return self._registry

    def _load(self, api_version: str, kind: str) -> jsonschema_rs.Validator | None:
        user = self._user.get((api_version, kind)) or self._user.get((api_version, kind.lower()))
        if user is not None:
            return jsonschema_rs.Draft202012Validator(user, registry=self._shared_registry(),
                                                      base_uri=f"https://vllm-infra.local/user/{kind.lower()}.json")
        crd = _crd_index().get((api_version, kind))
        if crd is not None:
            version = api_version.split("/", 1)[1]
            schema = _structural_to_json_schema(json.loads(crd.read_text())["versions"][version])
            schema.setdefault("properties", {})["metadata"] = {"$ref": _OBJECT_META}
            schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
            return jsonschema_rs.Draft202012Validator(
                schema, registry=self._shared_registry(),
                base_uri=f"https://vllm-infra.local/crds/{kind.lower()}.json")
        if "/" not in api_version and api_version != "v1":
            return None
        file = self._dir / f"{kind.lower()}-{_GROUP_PREFIX.sub(_DASH, api_version)}.json"
        if not file.is_file():
            return None
        return jsonschema_rs.Draft202012Validator(
            json.loads(file.read_text()), registry=self._shared_registry(),
            base_uri=f"https://kubernetes.io/api/{file.name}")

    def served_versions(self, api_version: str, kind: str) -> list[str]:
        """The versions of its API group this Kubernetes version defines ``kind`` in, alpha ones too (read
        off its schemas; empty for kinds that are not Kubernetes' own)."""
        group = api_version.rpartition("/")[0]
        prefix = f"{group.split('.', 1)[0]}-" if group else ""
        found = (file.stem.rsplit("-", 1)[1] for file in self._dir.glob(f"{kind.lower()}-{prefix}v*.json"))
        return sorted(f"{group}/{version}" if group else version for version in found
                      if re.fullmatch(r"v\d+((alpha|beta)\d+)?", version))

    def vendored_source(self, api_version: str, kind: str) -> str | None:
        """Where the vendored CRD schema of a kind comes from (None: a built-in kind, a user schema,
        or no schema)."""
        if (api_version, kind) in self._user or (api_version, kind.lower()) in self._user:
            return None
        crd = _crd_index().get((api_version, kind))
        return _crd_sources().get(crd.name) if crd is not None else None

    def validator(self, api_version: str, kind: str) -> jsonschema_rs.Validator:
        """Compiled schema for a kind (compiled on first use)."""
        key = (api_version, kind)
        if key not in self._compiled:
            self._compiled[key] = self._load(api_version, kind)
        compiled = self._compiled[key]
        if compiled is None:
            raise UnknownKindError(f"no schema for {kind} ({api_version}) in Kubernetes "
                                   f"{self.kubernetes_version}, the vendored CRDs or the --schema-dir schemas")
        return compiled

    def preload(self) -> None:
        """Compile the kinds every vLLM fleet has and the vendored CRDs now: a process about to fork
        its workers does it once for all of them (each would compile its own copy otherwise)."""
        for api_version, kind in (*PRELOADED_KINDS, *_crd_index()):
            self._compiled.setdefault((api_version, kind), self._load(api_version, kind))

    def is_valid(self, obj: dict[str, Any]) -> bool:
        """Fast path: True if the object is valid (raises UnknownKindError for unknown kinds)."""
        compiled = self.validator(str(obj.get("apiVersion")), str(obj.get("kind")))
        return bool(compiled.is_valid(obj)) and not _byte_violations(obj)

    def validate(self, obj: dict[str, Any]) -> list[SchemaViolation]:
        """Every violation of the object's schema (empty when valid)."""
        compiled = self.validator(str(obj.get("apiVersion")), str(obj.get("kind")))
        found = [] if compiled.is_valid(obj) else [SchemaViolation(tuple(error.instance_path), error.message)
                                                   for error in compiled.iter_errors(obj)]
        return found + _byte_violations(obj)


_BYTE_FIELDS = {"Secret": "data", "ConfigMap": "binaryData"}
_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")


def _byte_violations(obj: Mapping[str, Any]) -> list[SchemaViolation]:
    """``format: byte`` fields the API server decodes as base64 (the schemas declare the format,
    which JSON Schema validators do not enforce): Secret ``data`` and ConfigMap ``binaryData``
    values; line breaks are ignored, as Go's decoder does."""
    key = _BYTE_FIELDS.get(str(obj.get("kind")), "") if obj.get("apiVersion") == "v1" else ""
    data = obj.get(key) if key else None
    if type(data) is not dict:
        return []
    return [SchemaViolation((key, name), f"{key}.{name} is not valid base64: the API server rejects the object "
                                         "(put plain text under stringData)")
            for name, value in data.items()
            if type(value) is str and not _BASE64.match(value.replace("\n", "").replace("\r", ""))]
