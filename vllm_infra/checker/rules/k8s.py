"""Read-only helpers over Kubernetes object dicts: pod templates, containers, vLLM engine flags,
label selectors. Rules stay short by sharing these."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from vllm_infra.catalog.gpus import GPU_RESOURCE_NAMES, OTHER_ACCELERATOR_PREFIXES
from vllm_infra.catalog.vllm import CPU_BUILD_MARKERS, VLLM_DEFAULT_PORT, VllmVersion
from vllm_infra.catalog.vllm_releases import FlagUse, release_catalog
from vllm_infra.checker.rules.base import Manifest
from vllm_infra.vocabulary.autoscalers import AUTOSCALERS
from vllm_infra.vocabulary.kubernetes import (
    BUILT_IN_WORKLOAD_KINDS,
    CUSTOM_POD_TEMPLATES,
    DEFAULT_NAMESPACE,
    LWS_LEADER_INDEX,
    LWS_NAME_LABEL,
    LWS_WORKER_INDEX_LABEL,
    PROBE_DEFAULTS,
    SERVING_KINDS,
    VLLM_OPERATOR_KINDS,
    PodTemplateSite,
    group_kind,
)
from vllm_infra.vocabulary.paths import FieldPath

SHELLS = frozenset({"sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/bash", "/usr/bin/env"})


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """``obj[p0][p1]...`` or ``default`` when any step is missing (manifests are plain dicts and
    lists, so no ABC checks on this hot path)."""
    for part in path:
        if type(part) is int:
            if type(obj) is not list or part >= len(obj):
                return default
        elif type(obj) is not dict or part not in obj:
            return default
        obj = obj[part]
    return obj


_T = TypeVar("_T")
_VIEWS: ContextVar[dict[tuple[str, int], tuple[Any, Any]] | None] = ContextVar("vllm_infra_object_views",
                                                                              default=None)


@contextmanager
def shared_views() -> Iterator[None]:
    """Within the block, per-object views (pod templates, vLLM containers, engine flags) are
    computed once per object instead of once per rule. Entries are keyed by object id and hold the
    object, so an id cannot be reused while the block runs; objects must not change inside it."""
    token = _VIEWS.set({})
    try:
        yield
    finally:
        _VIEWS.reset(token)


def _view(name: str, obj: Mapping[str, Any], compute: Callable[[Any], _T]) -> _T:
    views = _VIEWS.get()
    if views is None:
        return compute(obj)
    key = (name, id(obj))
    if key not in views:
        views[key] = (obj, compute(obj))
    value: _T = views[key][1]
    return value


def name_of(obj: Manifest) -> str:
    """``metadata.name``."""
    return str(dig(obj, "metadata", "name", default=""))


def namespace_of(obj: Manifest) -> str:
    """``metadata.namespace``; unset means the namespace the file is applied to, taken as
    ``default`` (so it matches other unset ones and an explicit ``default``)."""
    return str(dig(obj, "metadata", "namespace", default="") or DEFAULT_NAMESPACE)


@dataclass(frozen=True)
class PodTemplate:
    """A pod spec inside a workload, with its path and labels."""

    path: FieldPath
    spec: Mapping[str, Any]
    labels: Mapping[str, str]
    role: str = "pod"
    """``pod``, or ``leader``/``worker`` for a LeaderWorkerSet."""


def _lws_templates(obj: Manifest) -> tuple[PodTemplate, ...]:
    """Leader and worker templates with the labels the LWS controller adds to their pods (the
    group name, and worker-index "0" for leaders); without a leaderTemplate, leaders use the
    worker template."""
    templates = []
    group = dig(obj, "spec", "leaderWorkerTemplate", default={}) or {}
    for role, key in (("leader", "leaderTemplate"), ("worker", "workerTemplate")):
        source = key if isinstance(group.get(key), Mapping) else "workerTemplate"
        template = group.get(source)
        if not isinstance(template, Mapping):
            continue
        labels = {**(dig(template, "metadata", "labels", default={}) or {}), LWS_NAME_LABEL: name_of(obj),
                  LWS_WORKER_INDEX_LABEL: LWS_LEADER_INDEX if role == "leader" else "1"}
        templates.append(PodTemplate(("spec", "leaderWorkerTemplate", source, "spec"), template.get("spec") or {},
                                     labels, role))
    return tuple(templates)


def pod_templates(obj: Manifest) -> tuple[PodTemplate, ...]:
    """Every pod template of a workload (none for other kinds)."""
    return _view("pod_templates", obj, _pod_templates)


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
            yield PodTemplate(path, spec, labels, site.role)


@dataclass(frozen=True)
class ContainerRef:
    """One container with its path."""

    path: FieldPath
    spec: Mapping[str, Any]
    init: bool = False


def containers(template: PodTemplate, *, include_init: bool = True) -> list[ContainerRef]:
    """Containers of a pod template (init and ephemeral containers too, unless excluded)."""
    found = [ContainerRef((*template.path, "containers", i), c)
             for i, c in enumerate(template.spec.get("containers") or [])]
    if include_init:
        for key in ("initContainers", "ephemeralContainers"):
            found += [ContainerRef((*template.path, key, i), c, init=True)
                      for i, c in enumerate(template.spec.get(key) or [])]
    return found


_VARIABLE_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_references(text: str, values: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in command, args and env values: a defined variable is
    replaced, ``$$`` is a literal ``$``, anything else stays as written."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return values.get(match.group(1), match.group(0))
    return _VARIABLE_REFERENCE.sub(replace, text) if "$" in text else text


def _command_tokens(container: Mapping[str, Any]) -> tuple[list[str], bool]:
    """Tokens of command + args after ``$(VAR)`` expansion; scripts passed to ``sh -c`` are
    split too (second value True)."""
    return _view("command_tokens", container, _split_command)


def _split_command(container: Mapping[str, Any]) -> tuple[list[str], bool]:
    tokens = [str(t) for t in as_list(container.get("command")) + as_list(container.get("args"))]
    if any("$" in token for token in tokens):
        values = env_values(container)
        tokens = [expand_references(token, values) for token in tokens]
    if tokens and tokens[0] in SHELLS and "-c" in tokens:
        script = " ".join(tokens[tokens.index("-c") + 1:])
        try:
            return shlex.split(script), True
        except ValueError:
            return script.split(), True
    return tokens, False


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else nothing (a field of the wrong type holds no items)."""
    return value if type(value) is list else []


def is_vllm_container(container: Mapping[str, Any]) -> bool:
    """Runs vLLM: the image is a vLLM image or the command starts the vLLM server."""
    repository = image_parts(str(container.get("image", "")))[0]
    tokens, _ = _command_tokens(container)
    return "vllm" in repository.lower() or any(t == "vllm" or "vllm.entrypoints" in t for t in tokens)


def serving_container(template: PodTemplate) -> ContainerRef | None:
    """The vLLM container of a pod template, if any (first match)."""
    for ref in containers(template, include_init=False):
        if is_vllm_container(ref.spec):
            return ref
    return None


@dataclass(frozen=True)
class EngineArgs:
    """Parsed ``vllm serve`` arguments of a container."""

    model: str | None
    flags: dict[str, str | bool] = field(default_factory=dict)
    shell: bool = False
    exec_form: bool = True
    """Whether vLLM becomes PID 1 (exec form, or ``exec`` inside ``sh -c``)."""
    argv: tuple[str, ...] = ()
    """The server's own arguments as written (after ``serve`` or the entrypoint module)."""
    server_args: bool = False
    """Whether ``argv`` surely goes to the vLLM server: after ``vllm serve`` or the entrypoint
    module, or ``args`` alone handed to a vLLM image's own entrypoint."""

    def flag(self, name: str) -> str | bool | None:
        """Value of ``--name`` (True for a bare flag; None when absent)."""
        return self.flags.get(name)

    def number(self, name: str) -> float | None:
        """Numeric value of ``--name`` (None when absent or not a number)."""
        value = self.flags.get(name)
        try:
            return float(value) if isinstance(value, str) else None
        except ValueError:
            return None


_OPERATORS = frozenset({"&&", "||", ";", "|", "&"})


def engine_args(container: Mapping[str, Any]) -> EngineArgs:
    """Parse the vLLM server's arguments from command/args (plain or ``sh -c`` scripts)."""
    return _view("engine_args", container, _engine_args)


def _engine_args(container: Mapping[str, Any]) -> EngineArgs:
    tokens, shell = _command_tokens(container)
    start, exec_form = None, not shell
    for index, token in enumerate(tokens):
        if token == "serve" and index > 0 and tokens[index - 1].endswith("vllm"):
            start = index + 1
            exec_form = exec_form or (index >= 2 and tokens[index - 2] == "exec")
            break
        if "vllm.entrypoints" in token:
            start = index + 1
            exec_form = exec_form or any(t == "exec" for t in tokens[max(0, index - 3):index])
            break
    server_args = start is not None or (not container.get("command") and bool(container.get("args"))
                                        and "vllm" in image_parts(str(container.get("image", "")))[0])
    if start is None:
        start = 0
    stop = next((index for index in range(start, len(tokens)) if tokens[index] in _OPERATORS), len(tokens))
    argv = tuple(tokens[start:stop])
    model, flags = _read_flags(argv, catalogued_version(str(container.get("image", ""))))
    return EngineArgs(model, flags, shell, exec_form, argv, server_args)


def _read_flags(argv: tuple[str, ...], version: VllmVersion | None) -> tuple[str | None, dict[str, str | bool]]:
    """(model, flags by canonical name) as vLLM's parser reads ``argv``: switches take no value,
    ``--no-x`` is False, ``-tp 2`` is ``tensor-parallel-size``; unknown flags keep their spelling."""
    catalog = release_catalog() if any(token.startswith("-") for token in argv) else None
    reading = version or (catalog.newest.version if catalog else None)
    model: str | None = None
    flags: dict[str, str | bool] = {}
    position = 0
    while position < len(argv):
        token = argv[position]
        resolved = catalog.resolve(token, reading) if catalog and reading and token.startswith("-") else None
        known = resolved.flag if resolved is not None and resolved.use != FlagUse.UNKNOWN else None
        following = argv[position + 1] if position + 1 < len(argv) else None
        attached = "=" in token or (token.startswith("-O") and len(token) > 2)
        if _is_short_option(token):
            if known is not None:
                consumes = known.takes_value and not attached and following is not None
                flags[known.name[2:]] = following if consumes and following else (
                    token.split("=", 1)[1] if "=" in token else True)
                position += consumes
        elif token.startswith("--"):
            name, _, value = token[2:].partition("=")
            name = known.name[2:] if known is not None else name.replace("_", "-")
            takes_value = known is None or known.takes_value
            if resolved is not None and resolved.use == FlagUse.NEGATED:
                flags[name] = False
            elif value:
                flags[name] = value
            elif takes_value and following is not None and not following.startswith("--"):
                flags[name] = following
                position += 1
            else:
                flags[name] = True
        elif model is None and not token.startswith("-"):
            model = token
        position += 1
    if "model" in flags and isinstance(flags["model"], str):
        model = model or flags["model"]
    return model, flags


def image_version(container: Mapping[str, Any], labels: Mapping[str, str]) -> VllmVersion | None:
    """vLLM release from the image tag, else from the ``app.kubernetes.io/version`` label."""
    _repo, tag, _digest = image_parts(str(container.get("image", "")))
    return VllmVersion.parse(tag or "") or VllmVersion.parse(str(labels.get("app.kubernetes.io/version", "")))


def _is_short_option(token: str) -> bool:
    return len(token) > 1 and token[0] == "-" and token[1] != "-" and not token[1].isdigit()


def catalogued_version(image: str) -> VllmVersion | None:
    """The vLLM release an image's tag names, when the release catalog covers it."""
    version = VllmVersion.parse(image_parts(image)[1] or "")
    if version is None:
        return None
    return version if release_catalog().covers(version) else None


def api_ports(container: Mapping[str, Any]) -> set[str | int]:
    """Where the vLLM server listens: ``--port`` (default 8000) and the port names declared for it."""
    port = engine_args(container).flag("port")
    ports: set[str | int] = {int(port) if isinstance(port, str) and port.isdigit() else VLLM_DEFAULT_PORT}
    for item in container.get("ports") or []:
        if isinstance(item, Mapping) and item.get("containerPort") in ports and item.get("name"):
            ports.add(str(item["name"]))
    return ports


def args_path(ref: ContainerRef) -> FieldPath:
    """Where the engine flags live (for findings)."""
    return (*ref.path, "args") if ref.spec.get("args") else (*ref.path, "command")


def env_entries(container: Mapping[str, Any]) -> Mapping[str, tuple[int, Mapping[str, Any]]]:
    """Environment variables by name -> (index, entry); later duplicates win, as in Kubernetes.
    Shared by the rules of one pass (read-only)."""
    return _view("env_entries", container, _env_entries)


def _env_entries(container: Mapping[str, Any]) -> dict[str, tuple[int, Mapping[str, Any]]]:
    return {str(item.get("name")): (index, item) for index, item in enumerate(as_list(container.get("env")))
            if isinstance(item, Mapping)}


def env_values(container: Mapping[str, Any]) -> Mapping[str, str]:
    """Literal environment values by name (read-only, shared like ``env_entries``)."""
    return _view("env_values", container, _env_values)


def _env_values(container: Mapping[str, Any]) -> dict[str, str]:
    return {name: str(entry["value"]) for name, (_, entry) in env_entries(container).items() if "value" in entry}


def gpu_resources(container: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """GPU resource name -> (request, limit) for resources the container mentions."""
    requests = dig(container, "resources", "requests", default={}) or {}
    limits = dig(container, "resources", "limits", default={}) or {}
    return {name: (requests.get(name), limits.get(name)) for name in GPU_RESOURCE_NAMES
            if name in requests or name in limits}


def gpu_count(container: Mapping[str, Any]) -> int:
    """GPUs a container is limited to (0 if none or not an integer)."""
    for _, limit in gpu_resources(container).values():
        try:
            return int(str(limit))
        except ValueError:
            return 0
    return 0


def _resource_names(container: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for key in ("requests", "limits"):
        section = dig(container, "resources", key)
        if type(section) is dict:
            names |= {str(name) for name in section}
    return names


def other_accelerator(template: PodTemplate, container: Mapping[str, Any]) -> bool:
    """The container uses an accelerator outside the GPU catalog, or a DRA claim."""
    return bool(dig(container, "resources", "claims") or template.spec.get("resourceClaims")) or any(
        name.startswith(OTHER_ACCELERATOR_PREFIXES) for name in _resource_names(container))


def is_cpu_build(container: Mapping[str, Any]) -> bool:
    """vLLM's CPU build: by image name, ``VLLM_TARGET_DEVICE=cpu`` or ``--device cpu``."""
    repository = image_parts(str(container.get("image", "")))[0].lower()
    return any(marker in repository for marker in CPU_BUILD_MARKERS) or \
        env_values(container).get("VLLM_TARGET_DEVICE") == "cpu" or engine_args(container).flag("device") == "cpu"


def labels_match(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """LabelSelector (matchLabels + matchExpressions) or plain map selector against labels.
    An empty or missing selector matches nothing here: rules treat it as a defect."""
    if not selector:
        return False
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return all(labels.get(k) == v for k, v in selector.items())
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (op == "In" and (not present or labels[key] not in values)) or \
                (op == "NotIn" and present and labels[key] in values) or \
                (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


_TAG = re.compile(r"^(?P<repo>[^@]+?)(?::(?P<tag>[\w][\w.-]*))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")


def image_parts(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference."""
    match = _TAG.match(image)
    if not match:
        return image, None, None
    return match.group("repo"), match.group("tag"), match.group("digest")


def vllm_pod_templates(obj: Manifest) -> tuple[tuple[PodTemplate, ContainerRef], ...]:
    """(template, serving container) for every template of a workload that runs vLLM."""
    return _view("vllm_pod_templates", obj, _vllm_pod_templates)


def _vllm_pod_templates(obj: Manifest) -> tuple[tuple[PodTemplate, ContainerRef], ...]:
    return tuple((template, ref) for template in pod_templates(obj)
                 if (ref := serving_container(template)) is not None)


def is_vllm_workload(obj: Manifest) -> bool:
    """A serving workload with at least one vLLM container."""
    return obj.get("kind") in SERVING_KINDS and bool(vllm_pod_templates(obj))


def runs_vllm(obj: Manifest) -> bool:
    """Anything that runs vLLM: a pod template with a vLLM container, or a custom resource whose
    operator starts vLLM from its own fields."""
    return bool(vllm_pod_templates(obj)) or group_kind(obj) in VLLM_OPERATOR_KINDS


def is_operator_resource(obj: Manifest) -> bool:
    """A custom resource whose operator creates pods (and labels them beyond any template we see)."""
    return group_kind(obj) in CUSTOM_POD_TEMPLATES or group_kind(obj) in VLLM_OPERATOR_KINDS


def group_size(obj: Manifest) -> int:
    """Pods that serve one replica together (LWS ``size``; 1 otherwise)."""
    if obj.get("kind") == "LeaderWorkerSet":
        return int(dig(obj, "spec", "leaderWorkerTemplate", "size", default=1) or 1)
    return 1


def probe_field(probe: Mapping[str, Any], key: str) -> int:
    """A probe timing, or the API server's default when unset (or not a number)."""
    value = probe.get(key)
    return value if type(value) is int else PROBE_DEFAULTS[key]


def probe_budget(probe: Mapping[str, Any] | None) -> int:
    """Seconds a probe tolerates failing before acting (Kubernetes defaults applied)."""
    if not isinstance(probe, Mapping) or not probe:
        return 0
    return probe_field(probe, "initialDelaySeconds") + probe_field(probe, "periodSeconds") * probe_field(
        probe, "failureThreshold")


def min_replicas(scaler: Manifest) -> int:
    """Minimum replicas of an autoscaler (its backend's default when unset)."""
    kind = AUTOSCALERS[str(scaler.get("kind"))]
    return int(dig(scaler, *kind.min_replicas_path, default=kind.min_replicas_default))


def max_replicas(scaler: Manifest) -> int:
    """Maximum replicas of an autoscaler (its backend's default, or the minimum, when unset)."""
    kind = AUTOSCALERS[str(scaler.get("kind"))]
    default = kind.max_replicas_default if kind.max_replicas_default is not None else min_replicas(scaler)
    return int(dig(scaler, *kind.max_replicas_path, default=default))
